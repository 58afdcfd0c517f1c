//! The operator console at `/console` (issue #12): server-rendered pages
//! without script, over the core's console use cases. A session cookie
//! (`HttpOnly`, `SameSite=Strict`, `Secure` and `__Host-` named outside
//! development) carries the session; every form that changes something
//! carries the session's CSRF token; sign-in is refused from another site.
//! A user sees only their own account's ID verifications: another
//! account's is the same 404 as one that does not exist.

use std::collections::HashMap;

use axum::extract::{DefaultBodyLimit, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use facegate_core::console::{
    csrf_matches, csrf_token, ConsoleScan, ConsoleViewer, ListFilter, MAX_LIST,
};
use facegate_core::reviews::ReviewRequest;
use facegate_core::{ImageKind, ServiceError};
use facegate_domain::{EnrollmentRef, Scan};
use serde::Deserialize;

use crate::state::AppState;

const STYLE: &str = include_str!("../web/console.css");

/// No script, no frames, forms only to the console itself.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; \
img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Forms are small: a name, a password, a reason.
const MAX_FORM: usize = 8 * 1024;

/// The console's routes, for the application router.
pub fn router(secure_cookies: bool) -> Router<AppState> {
    let cookie = CookieName::new(secure_cookies);
    Router::new()
        .route("/console", get(home))
        .route("/console/login", get(login_page).post(login))
        .route("/console/logout", post(logout))
        .route("/console/scans", get(list))
        .route("/console/scans/{reference}", get(detail))
        .route("/console/scans/{reference}/review", post(review))
        .route("/console/scans/{reference}/images/{image}", get(image))
        .route("/console/authentications", get(authentications))
        .route("/console/authentications/{reference}", get(authentication))
        .route(
            "/console/authentications/{reference}/images/{image}",
            get(authentication_image),
        )
        .route("/console/assets/console.css", get(style))
        .layer(DefaultBodyLimit::max(MAX_FORM))
        .layer(axum::Extension(cookie))
}

/// The session cookie's name and attributes.
#[derive(Debug, Clone, Copy)]
struct CookieName {
    secure: bool,
}

impl CookieName {
    fn new(secure: bool) -> Self {
        Self { secure }
    }

    fn name(self) -> &'static str {
        if self.secure {
            "__Host-facegate_console"
        } else {
            "facegate_console"
        }
    }

    fn set(self, token: &str) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!(
            "{}={token}; Path=/; HttpOnly; SameSite=Strict{secure}",
            self.name()
        )
    }

    fn clear(self) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!(
            "{}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}",
            self.name()
        )
    }

    fn read(self, headers: &HeaderMap) -> Option<String> {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == self.name())
            .map(|(_, value)| value.to_owned())
            .filter(|v| !v.is_empty() && v.len() <= 64)
    }
}

/// HTML-escapes text for an element or a quoted attribute.
fn esc(text: &str) -> String {
    crate::web::escape_html(text)
}

fn page(
    status: StatusCode,
    title: &str,
    viewer: Option<(&ConsoleViewer, &str)>,
    body: &str,
) -> Response {
    let nav = match viewer {
        Some((v, csrf)) => format!(
            "<nav><a href=\"/console/scans\">ID verifications</a> \
             <a href=\"/console/authentications\">Authentications</a> \
             <span class=\"who\">{}</span> \
             <form method=\"post\" action=\"/console/logout\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <button type=\"submit\">Sign out</button></form></nav>",
            esc(&v.username),
            esc(csrf)
        ),
        None => String::new(),
    };
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex, nofollow\">\
         <title>{title} · Facegate console</title><link rel=\"icon\" href=\"data:,\">\
         <link rel=\"stylesheet\" href=\"/console/assets/console.css\"></head>\
         <body><header><strong>Facegate console</strong>{nav}</header>\
         <main id=\"main\"><h1>{title}</h1>{body}</main></body></html>",
        title = esc(title),
    );
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    secure(headers);
    response
}

fn secure(headers: &mut HeaderMap) {
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

fn to_login(message: Option<&str>) -> Response {
    let target = match message {
        Some(m) => format!("/console/login?m={m}"),
        None => "/console/login".to_owned(),
    };
    Redirect::to(&target).into_response()
}

/// A request of a signed-in console user: the viewer and their session's
/// token. Without a live session the request is answered by a redirect to
/// the sign-in (ending an expired session's cookie).
struct SignedIn {
    viewer: ConsoleViewer,
    token: String,
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        // The router always installs it; a missing one reads the secure name.
        let cookie = parts
            .extensions
            .get::<CookieName>()
            .copied()
            .unwrap_or(CookieName::new(true));
        let (viewer, token) = signed_in(state, cookie, &parts.headers).await?;
        Ok(Self { viewer, token })
    }
}

/// The signed-in viewer and their session token, or the answer to give.
async fn signed_in(
    state: &AppState,
    cookie: CookieName,
    headers: &HeaderMap,
) -> Result<(ConsoleViewer, String), Response> {
    let Some(token) = cookie.read(headers) else {
        return Err(to_login(None));
    };
    match state.services.console_viewer(&token).await {
        Ok(viewer) => Ok((viewer, token)),
        Err(ServiceError::Unauthenticated) => {
            let mut response = to_login(Some("expired"));
            if let Ok(v) = HeaderValue::from_str(&cookie.clear()) {
                response.headers_mut().insert(header::SET_COOKIE, v);
            }
            Err(response)
        }
        Err(e) => Err(failure(e)),
    }
}

fn failure(e: ServiceError) -> Response {
    let (status, text) = match &e {
        ServiceError::ScanNotFound => {
            (StatusCode::NOT_FOUND, "No such ID verification.".to_owned())
        }
        ServiceError::TransactionNotFound => {
            (StatusCode::NOT_FOUND, "No such authentication.".to_owned())
        }
        ServiceError::Validation(errors) => (
            StatusCode::BAD_REQUEST,
            errors
                .iter()
                .map(|f| format!("{}: {}", f.field, f.detail))
                .collect::<Vec<_>>()
                .join("; "),
        ),
        ServiceError::Review(_) | ServiceError::Conflict(_) => {
            (StatusCode::CONFLICT, e.to_string())
        }
        _ => {
            tracing::error!(error = %e, "console request failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "The server has a problem; try again later.".to_owned(),
            )
        }
    };
    let body = format!("<p class=\"error\" role=\"alert\">{}</p><p><a href=\"/console/scans\">Back to the list</a></p>", esc(&text));
    page(
        status,
        status.canonical_reason().unwrap_or("Error"),
        None,
        &body,
    )
}

/// A form that changes something must come with the session's CSRF token;
/// the refusal to answer when it does not.
fn csrf_refusal(token: &str, form: &HashMap<String, String>) -> Option<Response> {
    match form.get("csrf") {
        Some(given) if csrf_matches(token, given) => None,
        _ => {
            let body = "<p class=\"error\" role=\"alert\">The form has expired or did not come \
                from the console (CSRF_TOKEN_INVALID). Go back, reload the page and try again.</p>";
            Some(page(StatusCode::FORBIDDEN, "Refused", None, body))
        }
    }
}

async fn home(_: SignedIn) -> Response {
    Redirect::to("/console/scans").into_response()
}

fn login_form(message: Option<(&str, &str)>) -> String {
    let note = match message {
        Some((class, text)) => format!("<p class=\"{class}\" role=\"alert\">{}</p>", esc(text)),
        None => String::new(),
    };
    format!(
        "{note}<form method=\"post\" action=\"/console/login\" class=\"login\">\
         <label for=\"username\">User name</label>\
         <input id=\"username\" name=\"username\" autocomplete=\"username\" required maxlength=\"64\">\
         <label for=\"password\">Password</label>\
         <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required maxlength=\"128\">\
         <label for=\"code\">One-time code (if your account has one)</label>\
         <input id=\"code\" name=\"code\" autocomplete=\"one-time-code\" inputmode=\"numeric\" maxlength=\"6\">\
         <button type=\"submit\">Sign in</button></form>"
    )
}

async fn login_page(Query(query): Query<HashMap<String, String>>) -> Response {
    let message = match query.get("m").map(String::as_str) {
        Some("expired") => Some(("notice", "Your session has ended. Please sign in again.")),
        Some("signed-out") => Some(("notice", "You are signed out.")),
        _ => None,
    };
    page(StatusCode::OK, "Sign in", None, &login_form(message))
}

async fn login(
    State(state): State<AppState>,
    axum::Extension(cookie): axum::Extension<CookieName>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    // Sign-in from another site's form (login CSRF) is refused.
    let cross_site = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == "cross-site");
    if cross_site {
        return page(
            StatusCode::FORBIDDEN,
            "Refused",
            None,
            "<p class=\"error\" role=\"alert\">Sign in from the console's own page.</p>",
        );
    }
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    match state
        .services
        .console_sign_in(
            field("username"),
            field("password"),
            form.get("code")
                .map(String::as_str)
                .filter(|c| !c.is_empty()),
        )
        .await
    {
        Ok(token) => {
            let mut response = Redirect::to("/console/scans").into_response();
            if let Ok(v) = HeaderValue::from_str(&cookie.set(&token)) {
                response.headers_mut().insert(header::SET_COOKIE, v);
            }
            secure(response.headers_mut());
            response
        }
        Err(ServiceError::Unauthenticated) => page(
            StatusCode::UNAUTHORIZED,
            "Sign in",
            None,
            &login_form(Some(("error", "Wrong user name or password."))),
        ),
        Err(ServiceError::RateLimited { retry_after_secs }) => {
            let minutes = retry_after_secs.div_ceil(60);
            let text = format!(
                "Too many failed sign-ins for this user. Try again in {minutes} minute(s)."
            );
            let mut response = page(
                StatusCode::TOO_MANY_REQUESTS,
                "Sign in",
                None,
                &login_form(Some(("error", &text))),
            );
            if let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
            response
        }
        Err(e) => failure(e),
    }
}

async fn logout(
    State(state): State<AppState>,
    axum::Extension(cookie): axum::Extension<CookieName>,
    SignedIn { token, .. }: SignedIn,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = csrf_refusal(&token, &form) {
        return refused;
    }
    if let Err(e) = state.services.console_sign_out(&token).await {
        return failure(e);
    }
    let mut response = to_login(Some("signed-out"));
    if let Ok(v) = HeaderValue::from_str(&cookie.clear()) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

/// The list's filters as the query gives them.
#[derive(Debug, Default, Deserialize)]
struct ListQuery {
    status: Option<String>,
    reference: Option<String>,
    from: Option<String>,
    to: Option<String>,
}

const STATUSES: [&str; 7] = [
    "PENDING",
    "APPROVED_VERIFIED",
    "DENIED_FRAUD",
    "DENIED_UNSUPPORTED_ID_TYPE",
    "DENIED_UNSUPPORTED_ID_COUNTRY",
    "ERROR_NOT_READABLE_ID",
    "NO_ID_UPLOADED",
];

fn day(raw: Option<&str>) -> Option<chrono::DateTime<chrono::Utc>> {
    let date = chrono::NaiveDate::parse_from_str(raw?.trim(), "%Y-%m-%d").ok()?;
    Some(date.and_hms_opt(0, 0, 0)?.and_utc())
}

fn status_of(scan: &Scan) -> String {
    match &scan.outcome {
        Some(o) => match &o.rejection {
            Some(r) => format!(
                "{} ({} {})",
                o.status.as_str(),
                r.reason().code(),
                r.reason().description()
            ),
            None => o.status.as_str().to_owned(),
        },
        None => "PENDING".to_owned(),
    }
}

impl ListQuery {
    /// The filter the query asks for (a status outside `statuses` and an
    /// unreadable date are ignored), and the filter form showing it.
    fn filter(self, action: &str, statuses: &[&str]) -> (ListFilter, String) {
        let status = self.status.filter(|s| statuses.contains(&s.as_str()));
        let reference = self
            .reference
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty() && r.len() <= 100);
        let options: String = std::iter::once("")
            .chain(statuses.iter().copied())
            .map(|value| {
                let selected = if status.as_deref() == Some(value) {
                    " selected"
                } else {
                    ""
                };
                let label = if value.is_empty() {
                    "Any status"
                } else {
                    value
                };
                format!("<option value=\"{value}\"{selected}>{label}</option>")
            })
            .collect();
        let value = |v: &Option<String>| esc(v.as_deref().unwrap_or_default());
        let form = format!(
            "<form method=\"get\" action=\"{action}\" class=\"filters\">\
             <label for=\"status\">Status</label><select id=\"status\" name=\"status\">{options}</select>\
             <label for=\"reference\">Reference</label><input id=\"reference\" name=\"reference\" value=\"{}\" maxlength=\"100\">\
             <label for=\"from\">From</label><input id=\"from\" name=\"from\" type=\"date\" value=\"{}\">\
             <label for=\"to\">To</label><input id=\"to\" name=\"to\" type=\"date\" value=\"{}\">\
             <button type=\"submit\">Filter</button></form>",
            value(&reference),
            value(&self.from),
            value(&self.to),
        );
        let filter = ListFilter {
            status,
            from: day(self.from.as_deref()),
            until: day(self.to.as_deref()).map(|d| d + chrono::Duration::days(1)),
            reference,
            limit: MAX_LIST,
        };
        (filter, form)
    }
}

type ListQueryResult = Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>;

async fn list(
    State(state): State<AppState>,
    SignedIn { viewer, token }: SignedIn,
    query: ListQueryResult,
) -> Response {
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let (filter, mut body) = q.filter("/console/scans", &STATUSES);
    let scans = match state.services.console_scans(&viewer, &filter).await {
        Ok(scans) => scans,
        Err(e) => return failure(e),
    };
    if scans.is_empty() {
        body.push_str("<p id=\"empty\">No ID verification matches.</p>");
    } else {
        body.push_str(
            "<table id=\"scans\"><caption>Newest first</caption><thead><tr><th scope=\"col\">Initiated (UTC)</th>\
             <th scope=\"col\">Reference</th><th scope=\"col\">Your reference</th>\
             <th scope=\"col\">Status</th></tr></thead><tbody>",
        );
        for scan in &scans {
            body.push_str(&format!(
                "<tr><td>{}</td><td><a href=\"/console/scans/{r}\">{r}</a></td><td>{}</td><td>{}</td></tr>",
                scan.created_at.format("%Y-%m-%d %H:%M:%S"),
                esc(scan.customer_internal_reference.as_deref().unwrap_or("")),
                esc(&status_of(scan)),
                r = scan.reference,
            ));
        }
        body.push_str("</tbody></table>");
    }
    let csrf = csrf_token(&token);
    page(
        StatusCode::OK,
        "ID verifications",
        Some((&viewer, &csrf)),
        &body,
    )
}

const STATES: [&str; 6] = [
    "CREATED", "STARTED", "PASSED", "FAILED", "INVALID", "EXPIRED",
];

async fn authentications(
    State(state): State<AppState>,
    SignedIn { viewer, token }: SignedIn,
    query: ListQueryResult,
) -> Response {
    let q = query.map(|Query(q)| q).unwrap_or_default();
    let (filter, mut body) = q.filter("/console/authentications", &STATES);
    let found = match state
        .services
        .console_authentications(&viewer, &filter)
        .await
    {
        Ok(found) => found,
        Err(e) => return failure(e),
    };
    if found.is_empty() {
        body.push_str("<p id=\"empty\">No authentication matches.</p>");
    } else {
        body.push_str(
            "<table id=\"authentications\"><caption>Newest first</caption><thead><tr>\
             <th scope=\"col\">Initiated (UTC)</th><th scope=\"col\">Reference</th>\
             <th scope=\"col\">Enrollment</th><th scope=\"col\">State</th></tr></thead><tbody>",
        );
        for tx in &found {
            body.push_str(&format!(
                "<tr><td>{}</td><td><a href=\"/console/authentications/{r}\">{r}</a></td><td>{}</td><td>{}</td></tr>",
                tx.created_at.format("%Y-%m-%d %H:%M:%S"),
                tx.enrollment,
                tx.state.as_str(),
                r = tx.reference,
            ));
        }
        body.push_str("</tbody></table>");
    }
    let csrf = csrf_token(&token);
    page(
        StatusCode::OK,
        "Authentications",
        Some((&viewer, &csrf)),
        &body,
    )
}

async fn authentication(
    State(state): State<AppState>,
    SignedIn { viewer, token }: SignedIn,
    Path(raw): Path<String>,
) -> Response {
    let Ok(reference) = raw.parse() else {
        return failure(ServiceError::TransactionNotFound);
    };
    let (tx, callbacks) = match state
        .services
        .console_authentication(&viewer, reference)
        .await
    {
        Ok(found) => found,
        Err(e) => return failure(e),
    };
    let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_default()
    };
    let rows = [
        ("Reference", tx.reference.to_string()),
        ("Enrollment", tx.enrollment.to_string()),
        ("State", tx.state.as_str().to_owned()),
        (
            "User reference",
            tx.user_reference
                .as_ref()
                .map(|u| u.as_str().to_owned())
                .unwrap_or_default(),
        ),
        ("Initiated (UTC)", time(Some(tx.created_at))),
        ("Final (UTC)", time(tx.finalized_at)),
    ];
    let mut body = facts_table(&rows);
    let mut images = String::new();
    let base = format!("/console/authentications/{}/images", tx.reference);
    if tx.face_image {
        images.push_str(&figure(&format!("{base}/face"), "Best face frame"));
    }
    for n in 1..=tx.liveness_images {
        let label = format!("Liveness frame {n}");
        images.push_str(&figure(&format!("{base}/liveness-{n}"), &label));
    }
    if !images.is_empty() {
        body.push_str(&format!(
            "<h2>Images</h2><div class=\"images\">{images}</div>"
        ));
    }
    if let Some(decision) = &tx.decision {
        let pretty = serde_json::to_string_pretty(decision).unwrap_or_default();
        body.push_str(&format!(
            "<h2>Checks</h2><p>Every liveness signal and the comparison, with scores, thresholds and reasons:</p><pre id=\"evidence\">{}</pre>",
            esc(&pretty)
        ));
    }
    body.push_str(&callbacks_table(&callbacks));
    let csrf = csrf_token(&token);
    page(
        StatusCode::OK,
        "Authentication",
        Some((&viewer, &csrf)),
        &body,
    )
}

async fn authentication_image(
    State(state): State<AppState>,
    SignedIn { viewer, .. }: SignedIn,
    Path((raw, name)): Path<(String, String)>,
) -> Response {
    let Ok(reference) = raw.parse() else {
        return failure(ServiceError::TransactionNotFound);
    };
    let Some((kind, n)) =
        image_of(&name).filter(|(k, _)| matches!(k, ImageKind::Face | ImageKind::Liveness))
    else {
        return failure(ServiceError::TransactionNotFound);
    };
    match state
        .services
        .console_authentication_image(&viewer, reference, kind, n)
        .await
    {
        Ok(bytes) => image_response(bytes),
        Err(e) => failure(e),
    }
}

fn reference_of(raw: &str) -> Result<EnrollmentRef, ServiceError> {
    raw.parse().map_err(|_| ServiceError::ScanNotFound)
}

fn detail_body(found: &ConsoleScan, csrf: &str) -> String {
    let d = &found.details;
    let scan = &d.scan;
    let r = scan.reference;
    let mut rows = vec![
        ("Reference", r.to_string()),
        (
            "Your reference",
            scan.customer_internal_reference.clone().unwrap_or_default(),
        ),
        ("Workflow", scan.workflow.id().to_string()),
        (
            "Initiated (UTC)",
            scan.created_at.format("%Y-%m-%d %H:%M:%S").to_string(),
        ),
        ("Status", status_of(scan)),
    ];
    if let Some(o) = &scan.outcome {
        rows.push((
            "Zone check digits",
            if o.mrz_checked { "OK" } else { "not read" }.to_owned(),
        ));
        if let Some(i) = &o.identity {
            rows.push((
                "Selfie against the portrait",
                i.similarity.as_str().to_owned(),
            ));
            rows.push(("Selfie live", i.validity.to_string()));
            if let Some(reason) = i.reason {
                rows.push(("Selfie reason", reason.as_str().to_owned()));
            }
        }
    }
    if let Some(doc) = &d.document {
        let date = |v: Option<chrono::NaiveDate>| v.map(|d| d.to_string()).unwrap_or_default();
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        rows.extend([
            (
                "Document type",
                doc.document_type
                    .map(|t| t.as_str().to_owned())
                    .unwrap_or_default(),
            ),
            (
                "Issuing country",
                doc.issuing_country
                    .map(|c| c.as_str().to_owned())
                    .unwrap_or_default(),
            ),
            ("Document number", text(&doc.number)),
            ("Last name", text(&doc.last_name)),
            ("First name", text(&doc.first_name)),
            ("Date of birth", date(doc.date_of_birth)),
            ("Expiry", date(doc.expiry)),
        ]);
    }
    let mut body = facts_table(&rows);
    // The images, each by its own URL under the session.
    let mut images = String::new();
    for (kind, n) in &d.images {
        let (name, label) = match kind {
            ImageKind::Front => ("front".to_owned(), "Document front".to_owned()),
            ImageKind::Back => ("back".to_owned(), "Document back".to_owned()),
            ImageKind::Face => ("face".to_owned(), "Selfie".to_owned()),
            ImageKind::Liveness => (format!("liveness-{n}"), format!("Liveness frame {n}")),
            _ => continue,
        };
        images.push_str(&figure(
            &format!("/console/scans/{r}/images/{name}"),
            &label,
        ));
    }
    if !images.is_empty() {
        body.push_str(&format!(
            "<h2>Images</h2><div class=\"images\">{images}</div>"
        ));
    }
    if let Some(evidence) = &scan.evidence {
        let pretty = serde_json::from_str::<serde_json::Value>(evidence)
            .and_then(|v| serde_json::to_string_pretty(&v))
            .unwrap_or_else(|_| evidence.clone());
        body.push_str(&format!(
            "<h2>Checks</h2><p>Every check the server made, with its score, threshold and reason:</p><pre id=\"evidence\">{}</pre>",
            esc(&pretty)
        ));
    }
    body.push_str("<h2>Audit trail</h2>");
    if found.audit.is_empty() {
        body.push_str("<p id=\"audit-empty\">No manual review yet.</p>");
    } else {
        body.push_str("<table id=\"audit\"><thead><tr><th scope=\"col\">When (UTC)</th><th scope=\"col\">Who</th>\
            <th scope=\"col\">Action</th><th scope=\"col\">Before → after</th><th scope=\"col\">Reason</th></tr></thead><tbody>");
        for e in &found.audit {
            body.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{} → {}</td><td>{}</td></tr>",
                e.at.format("%Y-%m-%d %H:%M:%S"),
                esc(&e.actor),
                esc(&e.action),
                esc(&e.before),
                esc(&e.after),
                esc(e.reason.as_deref().unwrap_or("")),
            ));
        }
        body.push_str("</tbody></table>");
    }
    body.push_str(&callbacks_table(&found.callbacks));
    if scan.outcome.is_some() {
        body.push_str(&format!(
            "<h2>Review</h2><form method=\"post\" action=\"/console/scans/{r}/review\" class=\"review\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{}\">\
             <fieldset><legend>Decision</legend>\
             <div><input type=\"radio\" id=\"approve\" name=\"decision\" value=\"APPROVE\"><label for=\"approve\">Approve (APPROVED_VERIFIED)</label></div>\
             <div><input type=\"radio\" id=\"reject\" name=\"decision\" value=\"REJECT\"><label for=\"reject\">Reject (300 MANUAL_REJECTION)</label></div>\
             </fieldset><label for=\"reason\">Reason</label>\
             <input id=\"reason\" name=\"reason\" maxlength=\"500\" required>\
             <button type=\"submit\">Save the review and send the callback</button></form>",
            esc(csrf)
        ));
    }
    body
}

/// The callbacks and every delivery attempt (never their bodies, which
/// carry the person's data).
fn callbacks_table(callbacks: &[facegate_core::CallbackRecord]) -> String {
    let mut out = String::from("<h2>Callbacks</h2>");
    if callbacks.is_empty() {
        out.push_str("<p>No callback (the scan has no callback URL, or none is due yet).</p>");
        return out;
    }
    out.push_str(
        "<table id=\"callbacks\"><thead><tr><th scope=\"col\">Queued (UTC)</th>\
         <th scope=\"col\">To</th><th scope=\"col\">State</th><th scope=\"col\">Attempts</th>\
         </tr></thead><tbody>",
    );
    for record in callbacks {
        let attempts: Vec<String> = record
            .attempts
            .iter()
            .map(|a| {
                let result = match (a.status, &a.error) {
                    (Some(status), _) => format!("HTTP {status}"),
                    (None, Some(error)) => error.clone(),
                    (None, None) => "no answer".to_owned(),
                };
                format!(
                    "#{} {} {} ({} ms)",
                    a.attempt_no,
                    a.at.format("%H:%M:%S"),
                    result,
                    a.duration_ms
                )
            })
            .collect();
        out.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            record.message.created_at.format("%Y-%m-%d %H:%M:%S"),
            esc(&record.message.url),
            record.status.as_str(),
            esc(&attempts.join("; ")),
        ));
    }
    out.push_str("</tbody></table>");
    out
}

async fn detail(
    State(state): State<AppState>,
    SignedIn { viewer, token }: SignedIn,
    Path(raw): Path<String>,
) -> Response {
    let reference = match reference_of(&raw) {
        Ok(r) => r,
        Err(e) => return failure(e),
    };
    match state.services.console_scan(&viewer, reference).await {
        Ok(found) => {
            let csrf = csrf_token(&token);
            page(
                StatusCode::OK,
                "ID verification",
                Some((&viewer, &csrf)),
                &detail_body(&found, &csrf),
            )
        }
        Err(e) => failure(e),
    }
}

async fn review(
    State(state): State<AppState>,
    SignedIn { viewer, token }: SignedIn,
    Path(raw): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    if let Some(refused) = csrf_refusal(&token, &form) {
        return refused;
    }
    let reference = match reference_of(&raw) {
        Ok(r) => r,
        Err(e) => return failure(e),
    };
    let request = ReviewRequest {
        decision: form.get("decision").cloned(),
        reason: form.get("reason").cloned(),
    };
    match state
        .services
        .console_review(&viewer, reference, &request)
        .await
    {
        Ok(_) => Redirect::to(&format!("/console/scans/{reference}")).into_response(),
        Err(e) => failure(e),
    }
}

async fn image(
    State(state): State<AppState>,
    SignedIn { viewer, .. }: SignedIn,
    Path((raw, name)): Path<(String, String)>,
) -> Response {
    let reference = match reference_of(&raw) {
        Ok(r) => r,
        Err(e) => return failure(e),
    };
    let Some((kind, n)) = image_of(&name) else {
        return failure(ServiceError::ScanNotFound);
    };
    match state
        .services
        .console_scan_image(&viewer, reference, kind, n)
        .await
    {
        Ok(bytes) => image_response(bytes),
        Err(e) => failure(e),
    }
}

/// An image's name in a console URL: `front`, `back`, `face`, `liveness-N`.
fn image_of(name: &str) -> Option<(ImageKind, u32)> {
    match name {
        "front" => Some((ImageKind::Front, 1)),
        "back" => Some((ImageKind::Back, 1)),
        "face" => Some((ImageKind::Face, 1)),
        // One name per image: `liveness-1`, never `liveness-01`.
        other => other
            .strip_prefix("liveness-")
            .filter(|digits| !digits.starts_with('0') && digits.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|n| n.parse::<u32>().ok())
            .filter(|n| (1..=64).contains(n))
            .map(|n| (ImageKind::Liveness, n)),
    }
}

/// The table of a detail view's facts, label and value.
fn facts_table(rows: &[(&str, String)]) -> String {
    let rows: String = rows
        .iter()
        .map(|(k, v)| {
            format!(
                "<tr><th scope=\"row\">{}</th><td>{}</td></tr>",
                esc(k),
                esc(v)
            )
        })
        .collect();
    format!("<table id=\"facts\">{rows}</table>")
}

/// An image of a detail view, by its URL under the session.
fn figure(src: &str, label: &str) -> String {
    format!(
        "<figure><img src=\"{}\" alt=\"{label}\"><figcaption>{label}</figcaption></figure>",
        esc(src)
    )
}

fn image_response(bytes: Vec<u8>) -> Response {
    let content_type = if bytes.starts_with(&[0x89, b'P', b'N', b'G']) {
        "image/png"
    } else {
        "image/jpeg"
    };
    let mut response = bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    secure(headers);
    response
}

async fn style() -> Response {
    let mut response = STYLE.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_cookie_is_host_only_http_only_strict_and_secure_outside_development() {
        let secure = CookieName::new(true).set("t");
        assert_eq!(
            secure,
            "__Host-facegate_console=t; Path=/; HttpOnly; SameSite=Strict; Secure"
        );
        let dev = CookieName::new(false).set("t");
        assert_eq!(dev, "facegate_console=t; Path=/; HttpOnly; SameSite=Strict");
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=b; facegate_console=tok; c=d"),
        );
        assert_eq!(
            CookieName::new(false).read(&headers).as_deref(),
            Some("tok")
        );
        assert_eq!(CookieName::new(true).read(&headers), None);
    }

    proptest::proptest! {
        /// Whatever the `Cookie` header holds, reading it never panics and
        /// answers only a bounded value of the console's own cookie.
        #[test]
        fn cookie_reading_never_panics_and_keeps_only_a_bounded_value(raw in "\\PC{0,300}") {
            let mut headers = HeaderMap::new();
            if let Ok(value) = HeaderValue::from_str(&raw) {
                headers.insert(header::COOKIE, value);
            }
            for secure in [false, true] {
                if let Some(token) = CookieName::new(secure).read(&headers) {
                    proptest::prop_assert!(!token.is_empty() && token.len() <= 64);
                    let pair = format!("{}={token}", CookieName::new(secure).name());
                    proptest::prop_assert!(raw.contains(&pair));
                }
            }
        }

        /// An image name in a URL: only the four kinds, liveness 1..=64.
        #[test]
        fn image_names_parse_to_known_kinds_only(name in "\\PC{0,20}|liveness-[+0-9]{1,4}") {
            if let Some((kind, n)) = image_of(&name) {
                let expected = match kind {
                    ImageKind::Liveness => format!("liveness-{n}"),
                    ImageKind::Front => "front".to_owned(),
                    ImageKind::Back => "back".to_owned(),
                    ImageKind::Face => "face".to_owned(),
                    _ => String::new(),
                };
                proptest::prop_assert_eq!(name, expected);
                proptest::prop_assert!((1..=64).contains(&n));
            }
        }

        /// A date filter: only `YYYY-MM-DD` days, never a panic.
        #[test]
        fn list_dates_never_panic(raw in "\\PC{0,20}|[0-9]{4}-[0-9]{2}-[0-9]{2}") {
            if let Some(day) = day(Some(&raw)) {
                proptest::prop_assert_eq!(day.format("%Y-%m-%d").to_string(), raw.trim());
            }
        }
    }

    #[test]
    fn text_is_escaped_before_it_reaches_the_page() {
        assert_eq!(esc("<b a=\"x\">'&"), "&lt;b a=&quot;x&quot;&gt;&#39;&amp;");
    }
}
