//! The web capture client (`/web/v4/app`): its static assets, embedded in the
//! binary, and the security headers they are served with. The client speaks
//! the capture protocol (`docs/capture-protocol.md`); nothing here knows the
//! transaction: the page carries no data of its own, the authorization token
//! stays in the query string, which the client removes at once.

use std::collections::HashMap;
use std::sync::LazyLock;

use axum::extract::{Path, Query};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use facegate_domain::{Country, Guidance, Locale, LocaleSet};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::{ApiError, Code};

const PAGE: &str = include_str!("../web/app.html");
/// The client script as written: the lists it shares with the server are
/// placeholders, filled in by [`SCRIPT`].
const SCRIPT_TEMPLATE: &str = include_str!("../web/app.js");
const STYLE: &str = include_str!("../web/app.css");

/// The translation table of the given locales: `(locale, its JSON file)`.
macro_rules! translations {
    ($($locale:literal),*) => {
        [$(($locale, include_str!(concat!("../web/locales/", $locale, ".json")))),*]
    };
}

/// One translation file per locale of either journey (the v4 guide's 39:
/// the 32 authentication locales of SPEC §0 and 7 that only ID
/// verifications name; the domain's one list), by canonical name; `en` is
/// the fallback and the reference for the keys.
pub const LOCALES: [(&str, &str); 39] = facegate_domain::with_all_locales!(translations);

/// The client script as served: the locales, the guidance codes (with
/// their translation keys) and the countries (alpha-3 → alpha-2, which the
/// browser names) come from the domain's lists, so the client cannot drift
/// from the server.
static SCRIPT: LazyLock<String> = LazyLock::new(|| {
    let locales: Vec<String> = LOCALES.iter().map(|(l, _)| format!("'{l}'")).collect();
    let countries: Vec<String> = Country::all()
        .map(|c| format!("{}: '{}'", c.as_str(), c.alpha2()))
        .collect();
    let guidance: Vec<String> = Guidance::ALL
        .iter()
        .map(|g| format!("{}: '{}'", g.as_str(), guidance_key(*g)))
        .collect();
    SCRIPT_TEMPLATE
        .replace("/*{{locales}}*/[]", &format!("[{}]", locales.join(", ")))
        .replace(
            "/*{{guidance}}*/{}",
            &format!("{{ {} }}", guidance.join(", ")),
        )
        .replace(
            "/*{{countries}}*/{}",
            &format!("{{ {} }}", countries.join(", ")),
        )
});

/// The translation key of a guidance code: `TURN_FURTHER` →
/// `guidanceTurnFurther`.
fn guidance_key(guidance: Guidance) -> String {
    let mut key = String::from("guidance");
    for word in guidance.as_str().split('_') {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            key.push(first);
            key.extend(chars.map(|c| c.to_ascii_lowercase()));
        }
    }
    key
}

/// Only the page's own origin: scripts, styles, fetches. The camera preview
/// is a `MediaStream` (`srcObject`), frames are drawn to a canvas; `blob:`
/// and `data:` cover images made from them. Trusted Types with no policy
/// make any HTML-string sink (`innerHTML`, …) throw: the client builds its
/// DOM with `textContent` only. `frame-ancestors` is left open on purpose:
/// customers embed the page in an iframe (SPEC §3).
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
style-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; \
connect-src 'self'; base-uri 'none'; form-action 'none'; object-src 'none'; \
require-trusted-types-for 'script'; trusted-types 'none'";

pub const PERMISSIONS_POLICY: &str = "camera=(self), microphone=(), geolocation=()";

/// The page names the transaction's token in its URL and depends on the
/// query; it is never stored.
const PAGE_CACHE: &str = "no-store";
/// Assets are the same for every user but change with the binary: caches
/// keep them and revalidate them with their `ETag` on every use.
const ASSET_CACHE: &str = "public, no-cache";

const HTML: &str = "text/html; charset=utf-8";
const JAVASCRIPT: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const JSON: &str = "application/json";

/// Text direction of a locale: Arabic and Hebrew (enrollment locales) are
/// written right to left, every other locale left to right.
fn direction(locale: &str) -> &'static str {
    match locale.split('-').next() {
        Some("ar" | "he" | "fa" | "ur") => "rtl",
        _ => "ltr",
    }
}

/// The locale of the `locale` query value: the same rules as the API
/// (any case, `_` or `-`), then the bare language (`de-CH` → `de`), then `en`.
fn pick_locale(raw: Option<&str>) -> &'static str {
    let Some(raw) = raw else {
        return Locale::DEFAULT.as_str();
    };
    let parse = |s: &str| Locale::parse(s, LocaleSet::Enrollment).ok();
    parse(raw)
        .or_else(|| raw.split(['-', '_']).next().and_then(parse))
        .unwrap_or(Locale::DEFAULT)
        .as_str()
}

pub(crate) fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The page in each locale: `lang`, `dir`, the title and the no-script text
/// are right before any script runs (the client sets the rest).
static PAGES: LazyLock<HashMap<&'static str, String>> = LazyLock::new(|| {
    LOCALES
        .iter()
        .map(|(locale, json)| {
            let strings: HashMap<String, String> = serde_json::from_str(json).unwrap_or_default();
            let text = |key: &str| escape_html(strings.get(key).map_or("", String::as_str));
            let page = PAGE
                .replace("{{lang}}", locale)
                .replace("{{dir}}", direction(locale))
                .replace("{{title}}", &text("title"))
                .replace("{{noscript}}", &text("noscript"));
            (*locale, page)
        })
        .collect()
});

/// FNV-1a, at compile time: a stable tag of an embedded asset's bytes.
const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash
}

fn security_headers(headers: &mut HeaderMap) {
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        "permissions-policy",
        HeaderValue::from_static(PERMISSIONS_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}

#[derive(Deserialize)]
pub struct PageQuery {
    locale: Option<String>,
}

/// `GET /web/v4/app`: the client page. It needs no token server-side; a
/// malformed query only loses its locale.
#[utoipa::path(
    get,
    path = "/web/v4/app",
    tag = "Capture",
    operation_id = "webClient",
    summary = "The web capture client (HTML)",
    description = "The page the `redirectUrl` points at. It needs no credentials server-side: \
        the client reads `authorizationToken` from the query, removes it from the address bar \
        and exchanges it per docs/capture-protocol.md. `locale` sets the page language (any \
        case, `_` or `-`; unknown values fall back to the language, then `en`). Embeddable in \
        an iframe with `allow=\"camera;fullscreen\"`.",
    params(PageParams),
    responses((
        status = 200,
        description = "The page (`Cache-Control: no-store`)",
        body = String,
        content_type = "text/html",
        headers(
            ("Content-Security-Policy" = String),
            ("Referrer-Policy" = String, description = "`no-referrer`"),
            ("Permissions-Policy" = String, description = "e.g. `camera=(self), microphone=(), geolocation=()`"),
            ("Cache-Control" = String),
        )
    ))
)]
pub async fn app(
    query: Result<Query<PageQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let raw = query.ok().and_then(|Query(q)| q.locale);
    let locale = pick_locale(raw.as_deref());
    let page = PAGES.get(locale).cloned().unwrap_or_default();
    let mut response = page.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(HTML));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(PAGE_CACHE));
    security_headers(headers);
    response
}

struct Asset {
    body: &'static str,
    content_type: &'static str,
    etag: u64,
}

static ASSETS: LazyLock<HashMap<String, Asset>> = LazyLock::new(|| {
    let mut assets = HashMap::new();
    let mut add = |name: String, body: &'static str, content_type: &'static str| {
        let etag = fnv1a(body.as_bytes());
        assets.insert(
            name,
            Asset {
                body,
                content_type,
                etag,
            },
        );
    };
    add("app.js".to_owned(), SCRIPT.as_str(), JAVASCRIPT);
    add("app.css".to_owned(), STYLE, CSS);
    for (locale, json) in LOCALES {
        add(format!("{locale}.json"), json, JSON);
    }
    assets
});

/// `GET /web/v4/assets/{file}`: `app.js`, `app.css` and `<locale>.json`.
#[utoipa::path(
    get,
    path = "/web/v4/assets/{file}",
    tag = "Capture",
    operation_id = "webAsset",
    summary = "The web client's script, style sheet and translations",
    description = "`app.js`, `app.css` and one `<locale>.json` per locale of either journey \
        (e.g. `de.json`, `en-GB.json`). Served with an `ETag` and `Cache-Control: public, \
        no-cache`; `If-None-Match` answers 304.",
    params(AssetPath),
    responses(
        (
            status = 200,
            description = "The asset",
            content(
                (String = "text/javascript"),
                (String = "text/css"),
                (Object = "application/json"),
            ),
            headers(
                ("Content-Security-Policy" = String),
                ("ETag" = String),
                ("Cache-Control" = String),
            )
        ),
        (status = 304, description = "Not modified"),
        (status = 404, description = "No such asset", body = crate::wire::Problem, content_type = crate::wire::PROBLEM),
    )
)]
pub async fn asset(Path(file): Path<String>, request_headers: HeaderMap) -> Response {
    let Some(asset) = ASSETS.get(&file) else {
        return ApiError::new(Code::NOT_FOUND, "no such asset").into_response();
    };
    let etag = format!("\"{:016x}\"", asset.etag);
    let fresh = request_headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|tag| tag.trim() == etag || tag.trim() == "*")
        });
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        asset.body.into_response()
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(ASSET_CACHE));
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    headers.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
    security_headers(headers);
    response
}

/// What the web client's page reads from its query.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct PageParams {
    /// Read by the client only; never by the server on this route.
    #[param(rename = "authorizationToken")]
    authorization_token: Option<String>,
    #[param(example = "de")]
    locale: Option<String>,
}

/// The name of a web client asset.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)]
pub struct AssetPath {
    #[param(example = "app.js")]
    file: String,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use std::collections::{BTreeMap, BTreeSet};

    use super::*;

    fn strings(json: &str) -> BTreeMap<String, String> {
        serde_json::from_str(json)
            .unwrap_or_else(|e| panic!("not a flat JSON object of strings: {e}"))
    }

    fn placeholders(text: &str) -> BTreeSet<String> {
        text.split('{')
            .skip(1)
            .filter_map(|rest| rest.split_once('}').map(|(name, _)| name.to_owned()))
            .collect()
    }

    #[test]
    fn there_is_one_translation_file_per_locale_of_either_journey() {
        let embedded: Vec<&str> = LOCALES.iter().map(|(l, _)| *l).collect();
        assert_eq!(embedded, Locale::all(LocaleSet::Enrollment));
        assert_eq!(embedded.len(), 39);
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/web/locales");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        on_disk.sort();
        let mut expected: Vec<String> = embedded.iter().map(|l| format!("{l}.json")).collect();
        expected.sort();
        assert_eq!(
            on_disk, expected,
            "web/locales holds exactly the embedded files"
        );
    }

    #[test]
    fn every_locale_has_exactly_the_keys_of_en_with_non_empty_values_and_the_same_placeholders() {
        let en = strings(LOCALES.iter().find(|(l, _)| *l == "en").unwrap().1);
        assert!(en.len() > 20, "en.json looks truncated");
        for (locale, json) in LOCALES {
            let other = strings(json);
            let missing: Vec<&String> = en.keys().filter(|k| !other.contains_key(*k)).collect();
            let extra: Vec<&String> = other.keys().filter(|k| !en.contains_key(*k)).collect();
            assert!(
                missing.is_empty() && extra.is_empty(),
                "{locale}: missing {missing:?}, extra {extra:?}"
            );
            for (key, value) in &other {
                assert!(!value.trim().is_empty(), "{locale}: {key} is empty");
                assert_eq!(
                    placeholders(value),
                    placeholders(&en[key]),
                    "{locale}: {key} has other placeholders than en"
                );
            }
        }
    }

    /// Every key the script or the page asks for exists in `en.json`, and
    /// every key of `en.json` is used (the server renders `title` and
    /// `noscript`; the script names the others as `'key'` literals).
    #[test]
    fn the_translations_and_their_uses_match() {
        let en = strings(LOCALES.iter().find(|(l, _)| *l == "en").unwrap().1);
        // `t('key'` where `t` is a whole identifier (not `get('…'`).
        let calls = SCRIPT.match_indices("t('").filter_map(|(at, m)| {
            let before = SCRIPT[..at].chars().next_back();
            let whole = !before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.');
            whole.then(|| &SCRIPT[at + m.len()..])
        });
        let called: BTreeSet<String> = calls
            .chain(PAGE.split("data-t=\"").skip(1))
            .filter_map(|rest| rest.split(['\'', '"']).next())
            .map(str::to_owned)
            .collect();
        assert!(called.len() > 10, "{called:?}");
        let unknown: Vec<&String> = called.iter().filter(|k| !en.contains_key(*k)).collect();
        assert!(unknown.is_empty(), "untranslated keys {unknown:?}");
        let unused: Vec<&String> = en
            .keys()
            .filter(|k| !["title", "noscript"].contains(&k.as_str()))
            .filter(|k| {
                !SCRIPT.contains(&format!("'{k}'")) && !PAGE.contains(&format!("data-t=\"{k}\""))
            })
            .collect();
        assert!(unused.is_empty(), "keys nobody uses {unused:?}");
    }

    /// The served script carries the domain's lists: every locale, every
    /// guidance code with a key that every locale translates.
    #[test]
    fn the_script_is_served_with_the_domains_locales_and_guidance_codes() {
        assert!(SCRIPT_TEMPLATE.contains("/*{{locales}}*/[]"));
        assert!(SCRIPT_TEMPLATE.contains("/*{{guidance}}*/{}"));
        assert!(SCRIPT_TEMPLATE.contains("/*{{countries}}*/{}"));
        assert!(!SCRIPT.contains("{{"), "a placeholder left unfilled");
        for locale in Locale::all(LocaleSet::Enrollment) {
            assert!(SCRIPT.contains(&format!("'{locale}'")), "{locale}");
        }
        for (alpha3, alpha2) in [("AUT", "AT"), ("USA", "US"), ("XKX", "XK")] {
            assert!(
                SCRIPT.contains(&format!("{alpha3}: '{alpha2}'")),
                "{alpha3}"
            );
        }
        assert_eq!(
            guidance_key(Guidance::KeepFaceInOval),
            "guidanceKeepFaceInOval"
        );
        for (locale, json) in LOCALES {
            let strings = strings(json);
            for g in Guidance::ALL {
                let key = guidance_key(g);
                assert!(SCRIPT.contains(&format!("{}: '{key}'", g.as_str())));
                assert!(strings.contains_key(&key), "{locale} lacks {key}");
            }
        }
    }

    /// The script keeps the authorization token in the tab's session
    /// storage (one place, one key) and nothing else anywhere: no local
    /// storage, no cookies; the capture token stays in memory.
    #[test]
    fn the_script_keeps_only_the_authorization_token_and_only_in_the_tabs_session() {
        for forbidden in ["localStorage", "document.cookie", "indexedDB", "caches."] {
            assert!(!SCRIPT.contains(forbidden), "app.js uses {forbidden}");
        }
        assert_eq!(SCRIPT.matches("sessionStorage").count(), 1);
        let writes: Vec<&str> = SCRIPT
            .split("setItem(")
            .skip(1)
            .map(|rest| rest.split(')').next().unwrap_or_default())
            .collect();
        assert_eq!(writes, ["TOKEN_KEY, authorizationToken"]);
        for sink in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
        ] {
            assert!(!SCRIPT.contains(sink), "app.js uses {sink}");
        }
    }

    /// Keyboard order follows the document: the no-flash option comes before
    /// the start button; every input has a label, every button a text.
    #[test]
    fn the_page_offers_the_no_flash_option_before_start_and_labels_every_control() {
        let at = |needle: &str| PAGE.find(needle).unwrap_or_else(|| panic!("no {needle}"));
        assert!(at("id=\"no-flash\"") < at("id=\"start\""));
        for input in PAGE.split("<input").skip(1) {
            let id = input
                .split("id=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap();
            assert!(
                PAGE.contains(&format!("<label for=\"{id}\"")),
                "input {id} has no label"
            );
        }
        for button in PAGE.split("<button").skip(1) {
            let tag = button.split('>').next().unwrap();
            assert!(tag.contains("data-t=\""), "a button without text: {tag}");
        }
        assert!(PAGE.contains("aria-live=\"assertive\""));
        assert!(STYLE.contains(":focus-visible"));
        assert!(STYLE.contains("prefers-reduced-motion: reduce"));
    }

    /// Every element the script looks up is in its list of elements, and
    /// every element of the list is on the page.
    #[test]
    fn the_script_finds_every_element_it_uses_on_the_page() {
        let list = SCRIPT
            .split("var el = {};")
            .nth(1)
            .and_then(|rest| rest.split("].forEach").next())
            .unwrap();
        let listed: BTreeSet<&str> = list.split('\'').skip(1).step_by(2).collect();
        assert!(listed.len() > 30, "{listed:?}");
        for id in &listed {
            assert!(PAGE.contains(&format!("id=\"{id}\"")), "no element {id}");
        }
        let bracketed = SCRIPT.split("el['").skip(1).map(|r| r.split('\'').next());
        let dotted = [" el.", "(el.", "!el."].into_iter().flat_map(|prefix| {
            SCRIPT
                .split(prefix)
                .skip(1)
                .map(|r| r.split(|c: char| !c.is_ascii_alphanumeric()).next())
        });
        for id in bracketed.chain(dotted).flatten() {
            assert!(listed.contains(id), "el.{id} is not looked up");
        }
    }

    /// The live light hint's rule (`LIGHT` and `lightHint`, cut out of the
    /// script as served) run by Node on measured numbers: a face dark
    /// against bright surroundings is backlit, not merely dark. Prints
    /// `SKIPPED:` without Node (`scripts/setup-doc-tools` installs it).
    #[test]
    fn the_light_hint_tells_a_backlit_face_from_a_dark_or_a_bright_one() {
        // (oval mean, surroundings' mean, surroundings' near-white share) → key
        let cases = [
            // The face dark against a window or a bright wall.
            ((45.0, 200.0, 0.1), "hintLightBacklight"),
            ((90.0, 150.0, 0.0), "hintLightBacklight"),
            // A window burnt out to white beside a dim face, in a dark room.
            ((100.0, 120.0, 0.3), "hintLightBacklight"),
            // Evenly lit, also a darker face before a lighter wall.
            ((130.0, 140.0, 0.0), "hintLightOk"),
            ((95.0, 140.0, 0.0), "hintLightOk"),
            ((150.0, 250.0, 0.6), "hintLightOk"),
            // Dark everywhere.
            ((40.0, 50.0, 0.0), "hintLightLow"),
            ((55.0, 105.0, 0.2), "hintLightLow"),
            // The face over-exposed.
            ((230.0, 180.0, 0.1), "hintLightHigh"),
        ];
        let start = SCRIPT.find("  var LIGHT = {").unwrap();
        let function = SCRIPT.find("  function lightHint(").unwrap();
        let end = function + SCRIPT[function..].find("\n  }\n").unwrap() + "\n  }\n".len();
        let numbers: Vec<String> = cases
            .iter()
            .map(|((oval, surround, white), _)| {
                format!("{{ oval: {oval}, surround: {surround}, surroundWhite: {white} }}")
            })
            .collect();
        let program = format!(
            "{}\nconsole.log(JSON.stringify([{}].map(lightHint)));\n",
            &SCRIPT[start..end],
            numbers.join(", ")
        );
        let run = match std::process::Command::new("node")
            .args(["-e", &program])
            .output()
        {
            Ok(run) => run,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                eprintln!("SKIPPED: node not installed");
                return;
            }
            Err(e) => panic!("node: {e}"),
        };
        assert!(
            run.status.success(),
            "{}",
            String::from_utf8_lossy(&run.stderr)
        );
        let keys: Vec<String> = serde_json::from_slice(&run.stdout).unwrap();
        let en = strings(LOCALES.iter().find(|(l, _)| *l == "en").unwrap().1);
        for ((numbers, expected), key) in cases.iter().zip(&keys) {
            assert_eq!(key, expected, "{numbers:?}");
            assert!(en.contains_key(key));
        }
        assert_eq!(keys.len(), cases.len());
    }

    #[test]
    fn the_locale_query_is_read_like_the_api_reads_it() {
        assert_eq!(pick_locale(None), "en");
        assert_eq!(pick_locale(Some("de")), "de");
        assert_eq!(pick_locale(Some("en_gb")), "en-GB");
        assert_eq!(pick_locale(Some("ZH-hk")), "zh-HK");
        assert_eq!(pick_locale(Some("de-CH")), "de");
        assert_eq!(pick_locale(Some("xx")), "en");
        assert_eq!(pick_locale(Some("ar")), "ar");
        assert_eq!(pick_locale(Some("he-IL")), "he");
        assert_eq!(pick_locale(Some("")), "en");
    }

    #[test]
    fn the_page_is_rendered_for_every_locale_with_its_title_escaped() {
        for (locale, _) in LOCALES {
            let page = &PAGES[locale];
            let dir = if ["ar", "he"].contains(&locale) {
                "rtl"
            } else {
                "ltr"
            };
            assert!(
                page.contains(&format!("<html lang=\"{locale}\" dir=\"{dir}\">")),
                "{locale}"
            );
            assert!(!page.contains("{{"), "{locale}: unreplaced placeholder");
        }
        assert_eq!(
            escape_html("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(direction("ar"), "rtl");
        assert_eq!(direction("en-GB"), "ltr");
    }
}
