//! The workspace's module graph has no cycle: in every crate, module A
//! depends on module B when A's code names B, through a `use` or a path
//! (`crate::b::x`, `super::x`, `b::x` for a child `b`). A `mod b;`
//! declaration is not a dependency, and neither is a `pub use` re-export
//! (a facade: the re-exporting module's code does not use what it passes
//! on). A module's inline modules (its `mod tests`) count as the module.
//!
//! Run alone: `cargo test -p facegate --test api layering`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Module = Vec<String>;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every crate's `src` folder, by crate folder name.
fn crate_sources() -> Vec<(String, PathBuf)> {
    let root = workspace();
    let mut out: Vec<(String, PathBuf)> = std::fs::read_dir(root.join("crates"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("src").is_dir())
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                p.join("src"),
            )
        })
        .collect();
    out.push(("bench".into(), root.join("bench/src")));
    out.sort();
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/a/b.rs` and `src/a/b/mod.rs` are `a::b`; `lib.rs` and `main.rs`
/// are the crate root (the empty path).
fn module_of(src: &Path, file: &Path) -> Module {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Module = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("lib" | "main" | "mod")
    ) {
        parts.pop();
    }
    parts
}

/// The code without comments, string and character literals.
fn code_only(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < bytes.len() {
        let rest = &text[i..];
        if rest.starts_with("//") {
            i += rest.find('\n').unwrap_or(rest.len());
        } else if rest.starts_with("/*") {
            i += rest.find("*/").map_or(rest.len(), |e| e + 2);
        } else if let Some(hashes) = raw_string_start(rest) {
            let open = 2 + hashes; // r, hashes, quote
            let close = format!("\"{}", "#".repeat(hashes));
            let end = rest[open..]
                .find(&close)
                .map_or(rest.len(), |e| open + e + close.len());
            out.push_str("\"\"");
            i += end;
        } else if bytes[i] == b'"' {
            let mut j = i + 1;
            while j < bytes.len() && bytes[j] != b'"' {
                j += if bytes[j] == b'\\' { 2 } else { 1 };
            }
            out.push_str("\"\"");
            i = j + 1;
        } else if bytes[i] == b'\'' {
            // A character literal ('a', '\n', '\u{1F600}'); a lifetime stays.
            let lit = match rest[1..].chars().next() {
                Some('\\') => {
                    let after = &rest[2..];
                    let skip = after.chars().next().map_or(0, char::len_utf8);
                    after[skip..].find('\'').map(|e| 2 + skip + e + 1)
                }
                Some(c) if rest[1 + c.len_utf8()..].starts_with('\'') => Some(c.len_utf8() + 2),
                _ => None,
            };
            match lit {
                Some(len) => {
                    out.push_str("' '");
                    i += len;
                }
                None => {
                    out.push('\'');
                    i += 1;
                }
            }
        } else {
            let c = rest.chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// `r"`, `r#"`, `br##"`…: the number of hashes.
fn raw_string_start(rest: &str) -> Option<usize> {
    let rest = rest.strip_prefix('b').unwrap_or(rest);
    let after = rest.strip_prefix('r')?;
    let hashes = after.len() - after.trim_start_matches('#').len();
    after[hashes..].starts_with('"').then_some(hashes)
}

fn is_ident(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Splits a file's code into its own code and its inline modules
/// (`mod name { … }`), recursively: `(module path, code)` pairs.
fn chunks(code: &str, module: &Module, out: &mut Vec<(Module, String)>) {
    let mut own = String::new();
    let mut rest = code;
    while let Some(at) = find_inline_mod(rest) {
        let (name, open) = at;
        own.push_str(&rest[..open.0]);
        let body_start = open.1 + 1;
        let mut depth = 1;
        let mut end = body_start;
        for (k, c) in rest[body_start..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                _ => {}
            }
            if depth == 0 {
                end = body_start + k;
                break;
            }
        }
        let mut inner = module.clone();
        inner.push(name);
        chunks(&rest[body_start..end], &inner, out);
        rest = &rest[(end + 1).min(rest.len())..];
    }
    own.push_str(rest);
    out.push((module.clone(), own));
}

/// The next `mod name {`: its name, the start of `mod` and the brace.
fn find_inline_mod(code: &str) -> Option<(String, (usize, usize))> {
    let mut from = 0;
    while let Some(k) = code[from..].find("mod ") {
        let start = from + k;
        from = start + 4;
        if code[..start].chars().next_back().is_some_and(is_ident) {
            continue;
        }
        let after = code[start + 4..].trim_start();
        let name: String = after.chars().take_while(|&c| is_ident(c)).collect();
        let tail = after[name.len()..].trim_start();
        if !name.is_empty() && tail.starts_with('{') {
            let brace = code.len() - tail.len();
            return Some((name, (start, brace)));
        }
    }
    None
}

/// The paths a `use` tree names: `a::{b, c::{d}}` → `a::b`, `a::c::d`.
fn expand(prefix: &str, tree: &str) -> Vec<String> {
    let Some(open) = tree.find('{') else {
        return vec![format!("{prefix}{tree}")];
    };
    let head = &tree[..open];
    let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (k, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&inner[start..k]);
                start = k + 1;
            }
            _ => {}
        }
    }
    parts.push(&inner[start..]);
    parts
        .into_iter()
        .filter(|p| !p.is_empty())
        .flat_map(|p| expand(&format!("{prefix}{head}"), p))
        .collect()
}

/// The `use` statements of a chunk (re-exports left out), and the chunk
/// without them.
fn uses(code: &str) -> (Vec<String>, String) {
    let mut paths = Vec::new();
    let mut rest_code = String::new();
    let mut rest = code;
    while let Some(k) = find_word(rest, "use") {
        let end = rest[k..].find(';').map_or(rest.len(), |e| k + e);
        let before = rest[..k].trim_end();
        let reexport = before.ends_with("pub")
            || before.ends_with(')') && {
                let open = before.rfind('(').unwrap_or(0);
                before[..open].trim_end().ends_with("pub")
            };
        let tree: String = rest[k + 3..end]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        if !reexport {
            paths.extend(expand("", &tree));
        }
        rest_code.push_str(&rest[..k]);
        rest = &rest[(end + 1).min(rest.len())..];
    }
    rest_code.push_str(rest);
    (paths, rest_code)
}

fn find_word(code: &str, word: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(k) = code[from..].find(word) {
        let at = from + k;
        let before = code[..at].chars().next_back();
        let after = code[at + word.len()..].chars().next();
        if !before.is_some_and(is_ident) && after.is_some_and(char::is_whitespace) {
            return Some(at);
        }
        from = at + word.len();
    }
    None
}

/// Every `a::b…` path in code (not a tail of a longer path).
fn paths(code: &str) -> Vec<String> {
    let chars: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let starts = is_ident(chars[i])
            && !chars[i].is_ascii_digit()
            && (i == 0 || !(is_ident(chars[i - 1]) || chars[i - 1] == ':'));
        if !starts {
            i += 1;
            continue;
        }
        let mut j = i;
        let mut path = String::new();
        loop {
            let seg_start = j;
            while j < chars.len() && is_ident(chars[j]) {
                j += 1;
            }
            path.extend(&chars[seg_start..j]);
            if j + 2 < chars.len()
                && chars[j] == ':'
                && chars[j + 1] == ':'
                && is_ident(chars[j + 2])
            {
                path.push_str("::");
                j += 2;
            } else {
                break;
            }
        }
        if path.contains("::") {
            out.push(path);
        }
        i = j.max(i + 1);
    }
    out
}

/// The module of the crate a path names from `module`, if any.
fn resolve(path: &str, module: &Module, modules: &BTreeSet<Module>) -> Option<Module> {
    let segs: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
    let (mut base, mut rest): (Module, &[&str]) = match segs.first().copied() {
        Some("crate") => (Vec::new(), &segs[1..]),
        Some("super" | "self") => (module.clone(), &segs[..]),
        Some(first) => {
            let mut child = module.clone();
            child.push(first.to_owned());
            if !modules.iter().any(|m| m.starts_with(&child)) {
                return None;
            }
            (module.clone(), &segs[..])
        }
        None => return None,
    };
    while let Some((&first, tail)) = rest.split_first() {
        match first {
            "super" => {
                base.pop();
            }
            "self" => {}
            _ => break,
        }
        rest = tail;
    }
    let mut best = base.clone();
    let mut candidate = base;
    for seg in rest {
        candidate.push((*seg).to_owned());
        if modules.iter().any(|m| m.starts_with(&candidate)) {
            best = candidate.clone();
        } else {
            break;
        }
    }
    Some(best)
}

/// The module graph of one crate: file module → the file modules it uses.
fn graph(src: &Path) -> BTreeMap<Module, BTreeSet<Module>> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let by_module: BTreeMap<Module, PathBuf> = files
        .iter()
        .map(|f| (module_of(src, f), f.clone()))
        .collect();
    let file_modules: BTreeSet<Module> = by_module.keys().cloned().collect();
    let mut graph = BTreeMap::new();
    for (module, file) in &by_module {
        let code = code_only(&std::fs::read_to_string(file).unwrap());
        let mut parts = Vec::new();
        chunks(&code, module, &mut parts);
        // Inline modules are modules too, for resolving `super` and children.
        let mut known = file_modules.clone();
        known.extend(parts.iter().map(|(m, _)| m.clone()));
        let mut targets = BTreeSet::new();
        for (inner, code) in &parts {
            let (used, code) = uses(code);
            for path in used.iter().chain(&paths(&code)) {
                if let Some(target) = resolve(path, inner, &known) {
                    // The file that holds the target.
                    let mut file_target = target;
                    while !file_modules.contains(&file_target) {
                        file_target.pop();
                    }
                    if &file_target != module {
                        targets.insert(file_target);
                    }
                }
            }
        }
        graph.insert(module.clone(), targets);
    }
    graph
}

/// A cycle of the graph, if there is one.
fn cycle(graph: &BTreeMap<Module, BTreeSet<Module>>) -> Option<Vec<Module>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Open,
        Done,
    }
    fn visit(
        node: &Module,
        graph: &BTreeMap<Module, BTreeSet<Module>>,
        marks: &mut BTreeMap<Module, Mark>,
        stack: &mut Vec<Module>,
    ) -> Option<Vec<Module>> {
        marks.insert(node.clone(), Mark::Open);
        stack.push(node.clone());
        for next in graph.get(node).into_iter().flatten() {
            match marks.get(next) {
                Some(Mark::Open) => {
                    let from = stack.iter().position(|m| m == next).unwrap_or(0);
                    let mut found = stack[from..].to_vec();
                    found.push(next.clone());
                    return Some(found);
                }
                Some(Mark::Done) => {}
                None => {
                    if let Some(found) = visit(next, graph, marks, stack) {
                        return Some(found);
                    }
                }
            }
        }
        stack.pop();
        marks.insert(node.clone(), Mark::Done);
        None
    }
    let mut marks = BTreeMap::new();
    for node in graph.keys() {
        if !marks.contains_key(node) {
            if let Some(found) = visit(node, graph, &mut marks, &mut Vec::new()) {
                return Some(found);
            }
        }
    }
    None
}

fn name(module: &Module) -> String {
    if module.is_empty() {
        "crate".into()
    } else {
        module.join("::")
    }
}

#[test]
fn no_crate_has_a_module_import_cycle() {
    let mut cycles = Vec::new();
    for (krate, src) in crate_sources() {
        if let Some(found) = cycle(&graph(&src)) {
            let path: Vec<String> = found.iter().map(name).collect();
            cycles.push(format!("{krate}: {}", path.join(" → ")));
        }
    }
    assert!(
        cycles.is_empty(),
        "module import cycles:\n{}",
        cycles.join("\n")
    );
}

/// The checker sees what it must: a sibling loop, a parent used by its
/// child while the parent uses the child, and no loop through re-exports
/// or a module's own tests.
#[test]
fn the_checker_finds_cycles_and_ignores_re_exports_and_tests() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    let write = |rel: &str, text: &str| {
        let path = src.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("lib.rs", "mod a;\nmod b;\npub use a::A;\n// use b::B;\n");
    write(
        "a.rs",
        "use crate::b::B;\npub struct A(B);\n#[cfg(test)]\nmod tests {\n    use super::*;\n}\n",
    );
    write("b.rs", "pub struct B;\nconst S: &str = \"crate::a::A\";\n");
    assert!(cycle(&graph(src)).is_none(), "{:?}", graph(src));
    write("b.rs", "pub struct B;\nfn f() -> crate::a::A { todo!() }\n");
    let found = cycle(&graph(src)).expect("a ↔ b");
    assert_eq!(found.first(), found.last());
    write("b.rs", "pub struct B;\n");
    write(
        "lib.rs",
        "mod a;\nmod b;\npub struct Root;\nfn f() { a::g(); }\n",
    );
    write("a.rs", "use crate::Root;\npub fn g() {}\n");
    assert!(cycle(&graph(src)).is_some(), "crate → a → crate");
}
