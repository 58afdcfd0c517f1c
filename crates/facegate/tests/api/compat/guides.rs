//! The Jumio guides as test data: reads a guide from
//! `$FACEGATE_SHARED_DIR/seed/reference/`, finds a section by its headings,
//! and takes out what the compatibility tests send and compare: the fenced
//! examples (sample requests and responses), the parameter tables (first
//! column = name, with the documented type, length, bold = required and the
//! "Possible values") and the header lists. [`Table::check`] holds an answer
//! to a table; [`Guide::parts`] lists every example, table and header list
//! of a section, for the coverage tests.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

use serde_json::Value;

/// The placeholder the guides write for every reference.
pub const REFERENCE: &str = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
/// The base URL of the guides' US data centre.
pub const JUMIO_BASE: &str = "https://netverify.com";
/// The customer site of the guides' examples (never resolved: replaced).
pub const CUSTOMER_SITE: &str = "https://www.yourcompany.com";

/// The shared folder's `seed/`, when present.
fn seed_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("FACEGATE_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared")))
        .join("seed");
    dir.is_dir().then_some(dir)
}

/// One guide's text, HTML comments removed (the retrieval guide keeps a
/// planned `timestamp` row in one).
pub struct Guide {
    pub file: String,
    lines: Vec<String>,
}

impl Guide {
    /// `seed/reference/{file}`, or `None` with a `SKIPPED:` line for `test`.
    pub fn load(file: &str, test: &str) -> Option<Self> {
        Self::read(&format!("reference/{file}"), test)
    }

    /// `seed/{file}`: the seed document, a plain-text rendering.
    pub fn seed(file: &str, test: &str) -> Option<Self> {
        Self::read(file, test)
    }

    fn read(relative: &str, test: &str) -> Option<Self> {
        let Some(path) = seed_dir().map(|d| d.join(relative)).filter(|p| p.is_file()) else {
            eprintln!("SKIPPED: {test}: no Jumio guide {relative} (set FACEGATE_SHARED_DIR)");
            return None;
        };
        let text = std::fs::read_to_string(&path).unwrap();
        Some(Self {
            file: relative.to_owned(),
            lines: without_comments(&text).lines().map(str::to_owned).collect(),
        })
    }

    fn root(&self) -> Section<'_> {
        Section {
            title: &self.file,
            lines: &self.lines,
        }
    }

    /// The section under the headings `path`, each searched inside the one
    /// before (panics when the guide has no such section).
    pub fn section(&self, path: &[&str]) -> Section<'_> {
        path.iter().fold(self.root(), |section, title| {
            section.find(title).unwrap_or_else(|| {
                panic!(
                    "{}: no heading {title:?} under {:?}",
                    self.file, section.title
                )
            })
        })
    }

    /// Every example, table and header list under `path`, in order.
    pub fn parts(&self, path: &[&str]) -> Vec<Part> {
        self.section(path).parts()
    }

    /// The parts of several sections, in order.
    pub fn parts_of(&self, paths: &[&[&str]]) -> Vec<Part> {
        paths.iter().flat_map(|path| self.parts(path)).collect()
    }

    /// The first paragraph after each line equal to `start` (the seed's
    /// sample responses).
    pub fn paragraphs_after(&self, start: &str) -> Vec<String> {
        let mut found = Vec::new();
        for (i, line) in self.lines.iter().enumerate() {
            if line.trim() != start {
                continue;
            }
            let paragraph: Vec<&str> = self.lines[i + 1..]
                .iter()
                .map(String::as_str)
                .skip_while(|l| l.trim().is_empty())
                .take_while(|l| !l.trim().is_empty())
                .collect();
            found.push(paragraph.join("\n"));
        }
        found
    }

    /// The names of the seed's plain-text tables under a line starting
    /// with `header`: the first word of each line that starts in lower case
    /// (footnote digits removed), up to the next blank line, or with `end`
    /// up to the next line starting with it.
    pub fn plain_names(&self, header: &str, end: Option<&str>) -> Vec<Vec<String>> {
        let mut tables = Vec::new();
        for (i, line) in self.lines.iter().enumerate() {
            if !line.starts_with(header) {
                continue;
            }
            let names = self.lines[i + 1..]
                .iter()
                .take_while(|l| match end {
                    Some(end) => !l.starts_with(end),
                    None => !l.trim().is_empty(),
                })
                .filter_map(|l| l.split_whitespace().next())
                .filter(|w| w.starts_with(|c: char| c.is_ascii_lowercase()))
                .map(|w| w.trim_end_matches(|c: char| c.is_ascii_digit()).to_owned())
                .collect();
            tables.push(names);
        }
        tables
    }

    /// The lines of the plain-text seed between a line equal to `start`
    /// and the next line starting with `end` (exclusive), each occurrence.
    pub fn plain_blocks(&self, start: &str, end: &str) -> Vec<String> {
        let mut blocks = Vec::new();
        let mut current: Option<Vec<&str>> = None;
        for line in &self.lines {
            match &mut current {
                None if line.trim() == start => current = Some(Vec::new()),
                Some(block) if line.starts_with(end) => {
                    blocks.push(block.join("\n").trim().to_owned());
                    current = None;
                }
                Some(block) => block.push(line),
                None => {}
            }
        }
        blocks
    }
}

fn without_comments(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("<!--") {
        out.push_str(&rest[..start]);
        rest = rest[start..]
            .find("-->")
            .map_or("", |end| &rest[start + end + 3..]);
    }
    out.push_str(rest);
    out
}

fn is_fence(line: &str) -> bool {
    let line = line.trim_start();
    line.starts_with("```") || line.starts_with("~~~")
}

/// `(level, title)` of a heading line.
fn heading(line: &str) -> Option<(usize, &str)> {
    let level = line.bytes().take_while(|b| *b == b'#').count();
    let title = line.get(level..)?;
    (level > 0 && title.starts_with(' ')).then(|| (level, title.trim()))
}

/// A heading and the lines up to the next heading of its level or above.
#[derive(Clone, Copy)]
pub struct Section<'a> {
    pub title: &'a str,
    lines: &'a [String],
}

/// What a section holds for an integration, as the coverage tests count it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Part {
    /// A fenced block under `heading`, by its first line.
    Example { heading: String, first_line: String },
    /// A parameter table under `heading`, by its names.
    Table { heading: String, names: Vec<String> },
    /// A list of `` `Name: value` `` header lines under `heading`.
    Headers { heading: String, names: Vec<String> },
}

impl Part {
    pub fn heading(&self) -> &str {
        match self {
            Self::Example { heading, .. }
            | Self::Table { heading, .. }
            | Self::Headers { heading, .. } => heading,
        }
    }
}

impl<'a> Section<'a> {
    /// The lines outside fenced blocks, with their index.
    fn outside_fences(&self) -> impl Iterator<Item = (usize, &'a str)> {
        let mut fenced = false;
        self.lines.iter().enumerate().filter_map(move |(i, line)| {
            if is_fence(line) {
                fenced = !fenced;
                return None;
            }
            (!fenced).then_some((i, line.as_str()))
        })
    }

    /// The first section titled `title` inside this one.
    pub fn find(&self, title: &str) -> Option<Section<'a>> {
        self.find_all(title).into_iter().next()
    }

    /// The heading line of the first section titled `title` at or after
    /// line `from`, and the end of its section.
    fn locate(&self, title: &str, from: usize) -> Option<(usize, usize)> {
        let (start, level) = self.outside_fences().find_map(|(i, line)| {
            heading(line)
                .filter(|(_, t)| i >= from && *t == title)
                .map(|(level, _)| (i, level))
        })?;
        let end = self
            .outside_fences()
            .filter(|(i, _)| *i > start)
            .find(|(_, line)| heading(line).is_some_and(|(l, _)| l <= level))
            .map_or(self.lines.len(), |(i, _)| i);
        Some((start, end))
    }

    /// Every section titled `title` inside this one, in order.
    pub fn find_all(&self, title: &str) -> Vec<Section<'a>> {
        let mut found = Vec::new();
        let mut from = 0;
        while let Some((start, end)) = self.locate(title, from) {
            found.push(Section {
                title: heading(&self.lines[start]).map_or("", |(_, t)| t),
                lines: &self.lines[start + 1..end],
            });
            from = end;
        }
        found
    }

    /// The fenced blocks of the section and its sub-sections, each
    /// without its fences.
    pub fn examples(&self) -> Vec<String> {
        let mut blocks = Vec::new();
        let mut current: Option<Vec<&str>> = None;
        for line in self.lines {
            match (&mut current, is_fence(line)) {
                (None, true) => current = Some(Vec::new()),
                (Some(block), true) => {
                    blocks.push(block.join("\n"));
                    current = None;
                }
                (Some(block), false) => block.push(line),
                (None, false) => {}
            }
        }
        blocks
    }

    /// The one fenced block of the section (panics unless exactly one).
    pub fn example(&self) -> String {
        let mut all = self.examples();
        assert_eq!(all.len(), 1, "{:?}: {} examples", self.title, all.len());
        all.remove(0)
    }

    /// The section's own tables (before its first sub-heading) that have
    /// rows (the guides also draw their notes as one-cell tables).
    pub fn tables(&self) -> Vec<Table> {
        let mut tables = Vec::new();
        let mut run: Vec<&str> = Vec::new();
        let mut flush = |run: &mut Vec<&str>| {
            if let Some(table) = Table::parse(run) {
                tables.push(table);
            }
            run.clear();
        };
        let own = self
            .outside_fences()
            .take_while(|(_, line)| heading(line).is_none());
        for (_, line) in own {
            // A row may also come without its leading pipe (the callback
            // guide's masking table), once the table has begun.
            if line.trim_start().starts_with('|') || (!run.is_empty() && line.contains('|')) {
                run.push(line.trim());
            } else {
                flush(&mut run);
            }
        }
        flush(&mut run);
        tables
    }

    /// The one table of the section (panics unless exactly one).
    pub fn table(&self) -> Table {
        let mut all = self.tables();
        assert_eq!(all.len(), 1, "{:?}: {} tables", self.title, all.len());
        all.remove(0)
    }

    /// The `` `Name: value` `` header lines of the section, in order.
    pub fn headers(&self) -> Vec<(String, String)> {
        self.outside_fences()
            .filter_map(|(_, line)| header_line(line))
            .collect()
    }

    /// Every example, table and header list, each under its nearest heading.
    pub fn parts(&self) -> Vec<Part> {
        let mut parts = Vec::new();
        let mut heading_now = self.title.to_owned();
        let mut start = 0;
        let flush = |title: &str, lines: &'a [String], parts: &mut Vec<Part>| {
            let section = Section { title: "", lines };
            let names = |pairs: Vec<(String, String)>| pairs.into_iter().map(|(n, _)| n).collect();
            let headers: Vec<String> = names(section.headers());
            if !headers.is_empty() {
                parts.push(Part::Headers {
                    heading: title.to_owned(),
                    names: headers,
                });
            }
            for table in section.tables() {
                parts.push(Part::Table {
                    heading: title.to_owned(),
                    names: table.names().into_iter().map(str::to_owned).collect(),
                });
            }
            for example in section.examples() {
                parts.push(Part::Example {
                    heading: title.to_owned(),
                    first_line: example
                        .lines()
                        .find(|l| !l.trim().is_empty())
                        .unwrap_or_default()
                        .trim()
                        .to_owned(),
                });
            }
        };
        let headings: Vec<(usize, &str)> = self
            .outside_fences()
            .filter_map(|(i, line)| heading(line).map(|(_, t)| (i, t)))
            .collect();
        for (i, title) in headings {
            flush(&heading_now, &self.lines[start..i], &mut parts);
            heading_now = title.to_owned();
            start = i + 1;
        }
        flush(&heading_now, &self.lines[start..], &mut parts);
        parts
    }
}

/// `` `Accept: application/json`<br> `` or `` - `Accept: …`<br> ``.
fn header_line(line: &str) -> Option<(String, String)> {
    let line = line.trim().trim_start_matches("- ");
    let inner = line.strip_prefix('`')?;
    let (inner, _) = inner.split_once('`')?;
    let (name, value) = inner.split_once(':')?;
    let name = name.trim();
    (!name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
        .then(|| (name.to_owned(), value.trim().to_owned()))
}

/// A parameter table: one row per field.
#[derive(Debug, Clone)]
pub struct Table {
    pub rows: Vec<Row>,
}

/// One row of a parameter table.
#[derive(Debug, Clone)]
pub struct Row {
    pub name: String,
    /// Written in bold: required.
    pub required: bool,
    /// The `Type` column, as written (`string`, `JSON array`, …).
    pub kind: Option<String>,
    /// The `Max. length` column; for a number its `Max. value`.
    pub max: Option<usize>,
    /// The "Possible values" (`• X` after "Possible value(s):") of the
    /// description, or its one fixed value (`NETVERIFY_AUTHENTICATION`).
    pub values: Vec<String>,
    pub description: String,
    /// Every cell as written, the name's first.
    pub cells: Vec<String>,
}

fn cells(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|').trim_end_matches('|');
    inner.split('|').map(|c| c.trim().to_owned()).collect()
}

fn clean_name(cell: &str) -> String {
    let mut name = cell.replace("**", "").replace('`', "");
    while let Some(start) = name.find("<sup>") {
        let end = name[start..]
            .find("</sup>")
            .map_or(name.len(), |e| start + e + 6);
        name.replace_range(start..end, "");
    }
    name.trim().to_owned()
}

/// The first backticked word of a value line, or its first word, without
/// Markdown's escapes (`NOT\_AVAILABLE`).
fn value_of(item: &str) -> Option<String> {
    let item = item.trim();
    let word = match item.strip_prefix('`') {
        Some(rest) => rest.split('`').next().unwrap_or_default(),
        None => item.split_whitespace().next().unwrap_or_default(),
    };
    (!word.is_empty()).then(|| word.replace('\\', ""))
}

/// The lines of a table cell, split at its `<br>`, `<br/>` and `<br />`.
fn cell_lines(text: &str) -> impl Iterator<Item = &str> {
    text.split("<br")
        .map(|part| part.trim_start_matches([' ', '/']).trim_start_matches('>'))
}

/// The values of the `• X` lines of `text`.
fn bullets(text: &str) -> Vec<String> {
    cell_lines(text)
        .filter_map(|line| line.trim().strip_prefix('•'))
        .filter_map(value_of)
        .collect()
}

impl Table {
    fn parse(lines: &[&str]) -> Option<Self> {
        let (header, rest) = lines.split_first()?;
        let columns = cells(header);
        let column = |wanted: &str| {
            columns
                .iter()
                .position(|c| c.to_ascii_lowercase().starts_with(wanted))
        };
        let (kind, max) = (column("type"), column("max"));
        // The description column, else the last (the callback guide's
        // parameters have a `Notes` column after it).
        let described = column("description");
        let rows: Vec<Row> = rest
            .iter()
            .filter(|line| !line.trim_start_matches('|').trim_start().starts_with(":-"))
            .map(|line| {
                let cells = cells(line);
                let description = described
                    .and_then(|i| cells.get(i))
                    .or(cells.last())
                    .cloned()
                    .unwrap_or_default();
                let possible = description
                    .split_once("Possible value")
                    .and_then(|(_, v)| v.split_once(':'))
                    .map_or("", |(_, v)| v);
                // Written on the line (`Possible values: M, F`), else as
                // the `• X` lines below it.
                let inline = possible.split("<br").next().unwrap_or_default().trim();
                let mut values: Vec<String> = if inline.is_empty() {
                    bullets(possible)
                } else {
                    inline.split(',').filter_map(value_of).collect()
                };
                let fixed = description.trim();
                if values.is_empty()
                    && !fixed.is_empty()
                    && fixed.chars().all(|c| c.is_ascii_uppercase() || c == '_')
                {
                    values.push(fixed.to_owned());
                }
                let cell = |i: Option<usize>| i.and_then(|i| cells.get(i)).cloned();
                Row {
                    name: clean_name(&cells[0]),
                    required: cells[0].contains("**"),
                    kind: cell(kind).filter(|k| !k.is_empty()),
                    max: cell(max).and_then(|m| {
                        let digits: String = m.chars().filter(char::is_ascii_digit).collect();
                        digits.parse().ok()
                    }),
                    values,
                    description,
                    cells,
                }
            })
            .collect();
        (!rows.is_empty()).then_some(Self { rows })
    }

    pub fn names(&self) -> Vec<&str> {
        self.rows.iter().map(|r| r.name.as_str()).collect()
    }

    /// The table without the rows `names` (a part answered inside another,
    /// "without timestamp and scanReference").
    pub fn without(&self, names: &[&str]) -> Self {
        Self {
            rows: self
                .rows
                .iter()
                .filter(|r| !names.contains(&r.name.as_str()))
                .cloned()
                .collect(),
        }
    }

    pub fn row(&self, name: &str) -> &Row {
        self.rows
            .iter()
            .find(|r| r.name == name)
            .unwrap_or_else(|| panic!("no row {name:?} in {:?}", self.names()))
    }

    /// Holds the JSON object `answer` to the table: every row's member is
    /// there (an optional one may be absent only if `absent` names it) and
    /// is what the row documents ([`Row::check`]); every other member is
    /// one of `additions`, each of which must be there.
    pub fn check(&self, answer: &Value, additions: &[Difference], absent: &[&str]) {
        let object = answer
            .as_object()
            .unwrap_or_else(|| panic!("not an object: {answer}"));
        for row in &self.rows {
            match object.get(&row.name) {
                Some(value) => row.check(value),
                None => assert!(
                    !row.required && absent.contains(&row.name.as_str()),
                    "{:?} missing from {answer}",
                    row.name
                ),
            }
        }
        let documented: BTreeSet<&str> = self.names().into_iter().collect();
        let extra: BTreeSet<&str> = object
            .keys()
            .map(String::as_str)
            .filter(|k| !documented.contains(k))
            .collect();
        let listed: BTreeSet<&str> = additions.iter().map(|d| d.name).collect();
        assert_eq!(extra, listed, "members beyond the guide's table: {answer}");
    }

    /// A form body read as JSON: members of a `JSON …` type parsed from
    /// their text, the others as strings.
    pub fn form_as_json(&self, form: &HashMap<String, String>) -> Value {
        let json_typed = |name: &str| {
            self.rows
                .iter()
                .any(|r| r.name == name && r.kind.as_deref().is_some_and(|k| k.starts_with("JSON")))
        };
        let object: serde_json::Map<String, Value> = form
            .iter()
            .map(|(name, text)| {
                let value = if json_typed(name) {
                    serde_json::from_str(text)
                        .unwrap_or_else(|e| panic!("{name} is not JSON ({e}): {text}"))
                } else {
                    Value::String(text.clone())
                };
                (name.clone(), value)
            })
            .collect();
        Value::Object(object)
    }
}

/// A member Facegate adds or changes on purpose, and why.
#[derive(Debug, Clone, Copy)]
pub struct Difference {
    pub name: &'static str,
    pub why: &'static str,
}

impl Row {
    /// The description names the timestamp form `YYYY-MM-DDThh:mm:ss.SSSZ`.
    pub fn is_timestamp(&self) -> bool {
        self.description.contains("YYYY-MM-DDThh:mm:ss.SSSZ")
    }

    /// Asserts `value` is one of [`Row::listed`].
    pub fn assert_listed(&self, value: &str) {
        let listed = self.listed();
        assert!(
            listed.iter().any(|l| l == value),
            "{} = {value}, documented: {listed:?}",
            self.name
        );
    }

    /// Every `• X` value of the description, whatever introduces it
    /// ("Possible states:", "ID Verification:", conditions between them).
    pub fn listed(&self) -> Vec<String> {
        bullets(&self.description)
    }

    /// The `code NAME` lines of the description (the reject reason tables)
    /// as `(group, code, name)`: the group is the last word before the
    /// colon of the "Possible codes … for …" line above them
    /// (`DENIED_FRAUD`, `ERROR_NOT_READABLE_ID`, `100`, `200`).
    pub fn codes(&self) -> Vec<(String, String, String)> {
        let mut group = String::new();
        let mut codes = Vec::new();
        for line in cell_lines(&self.description) {
            let line = line.replace('\\', "");
            if let Some((intro, rest)) = line.split_once(':') {
                if intro.contains("Possible codes") {
                    group = intro
                        .split_whitespace()
                        .last()
                        .unwrap_or_default()
                        .to_owned();
                    if rest.trim().is_empty() {
                        continue;
                    }
                }
            }
            let mut words = line.split_whitespace();
            if let (Some(code), Some(name)) = (words.next(), words.next()) {
                if code.chars().all(|c| c.is_ascii_digit()) {
                    let name = name.split('<').next().unwrap_or_default();
                    codes.push((group.clone(), code.to_owned(), name.to_owned()));
                }
            }
        }
        codes
    }

    /// Asserts `value` has the row's type, length, value and form.
    pub fn check(&self, value: &Value) {
        let name = &self.name;
        let kind = self
            .kind
            .as_deref()
            .unwrap_or("string")
            .to_ascii_lowercase();
        let typed = match kind.as_str() {
            "string" => value.is_string(),
            "number" => value.is_number(),
            "integer" => value.is_i64() || value.is_u64(),
            "json array" => value.is_array(),
            "json object" | "object" => value.is_object(),
            "json array/object" | "json" | "json object / json array" => {
                value.is_array() || value.is_object()
            }
            other => panic!("{name}: no check for the type {other:?}"),
        };
        assert!(typed, "{name} is documented as {kind}: {value}");
        if let (Some(text), Some(max)) = (value.as_str(), self.max) {
            assert!(
                text.chars().count() <= max,
                "{name} longer than {max}: {text}"
            );
        }
        if !self.values.is_empty() {
            let text = value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_owned);
            assert!(
                self.values.contains(&text),
                "{name} = {text}, documented: {:?}",
                self.values
            );
        }
        if self.is_timestamp() {
            assert_timestamp(name, value.as_str().unwrap_or_default());
        }
    }
}

/// `YYYY-MM-DD`.
pub fn assert_date(name: &str, text: &str) {
    let parsed = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d");
    assert!(
        parsed.is_ok() && text.len() == 10,
        "{name} is not YYYY-MM-DD: {text}"
    );
}

/// An ISO 3166-1 alpha-3 country code or `XKX` (Kosovo).
pub fn assert_country(name: &str, text: &str) {
    assert!(
        facegate_domain::Country::parse(text, name).is_ok(),
        "{name} is no ISO 3166-1 alpha-3 code: {text}"
    );
}

/// `YYYY-MM-DDThh:mm:ss.SSSZ` (Facegate always sends the milliseconds).
pub fn assert_timestamp(name: &str, text: &str) {
    let parsed = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.3fZ");
    assert!(
        parsed.is_ok() && text.len() == 24,
        "{name} is not YYYY-MM-DDThh:mm:ss.SSSZ: {text}"
    );
}

/// A sample request as a guide writes it.
#[derive(Debug, Clone)]
pub struct SampleRequest {
    pub method: reqwest::Method,
    /// The URL's path (the guides' host dropped).
    pub path: String,
    pub headers: Vec<(String, String)>,
    /// What follows the headers, trimmed.
    pub body: String,
}

impl SampleRequest {
    /// `METHOD URL HTTP/1.1`, `Name: value` lines, then the body (after a
    /// blank line, or at the first line that is no header).
    pub fn parse(text: &str) -> Self {
        let mut lines = text.lines().skip_while(|l| l.trim().is_empty());
        let first = lines.next().unwrap_or_default();
        let mut words = first.split_whitespace();
        let method = words.next().unwrap_or_default().parse().unwrap();
        let url = url::Url::parse(words.next().unwrap_or_default()).unwrap();
        let mut headers = Vec::new();
        let mut body = Vec::new();
        let mut in_body = false;
        for line in lines {
            if !in_body {
                if let Some((name, value)) = line.split_once(':').filter(|(n, _)| {
                    !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                }) {
                    headers.push((name.to_owned(), value.trim().to_owned()));
                    continue;
                }
                in_body = true;
            }
            body.push(line);
        }
        Self {
            method,
            path: url.path().to_owned(),
            headers,
            body: body.join("\n").trim().to_owned(),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn header_names(&self) -> Vec<&str> {
        self.headers.iter().map(|(n, _)| n.as_str()).collect()
    }
}

/// The member names of a JSON object, recursively as `a`, `a[].b`.
pub fn shape(value: &Value) -> BTreeMap<String, &'static str> {
    fn walk(value: &Value, prefix: &str, out: &mut BTreeMap<String, &'static str>) {
        match value {
            Value::Object(members) => {
                for (name, member) in members {
                    let path = if prefix.is_empty() {
                        name.clone()
                    } else {
                        format!("{prefix}.{name}")
                    };
                    out.insert(path.clone(), kind_of(member));
                    walk(member, &path, out);
                }
            }
            Value::Array(items) => {
                let path = format!("{prefix}[]");
                for item in items {
                    out.insert(path.clone(), kind_of(item));
                    walk(item, &path, out);
                }
            }
            _ => {}
        }
    }
    let mut out = BTreeMap::new();
    walk(value, "", &mut out);
    out
}

/// The JSON kind of a value: `string`, `number`, `array`, …
pub fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Asserts that `answer` has the sample's members with the sample's JSON
/// kinds, and beyond them exactly `additions` (at the top level).
pub fn assert_sample_shape(sample: &Value, answer: &Value, additions: &[Difference]) {
    let mut expected = shape(sample);
    let actual = shape(answer);
    for d in additions {
        let kind = actual
            .get(d.name)
            .unwrap_or_else(|| panic!("the addition {:?} is missing: {answer}", d.name));
        expected.insert(d.name.to_owned(), kind);
        // What an addition holds is its own (e.g. `decision`'s members).
        expected.extend(
            actual
                .iter()
                .filter(|(path, _)| path.starts_with(&format!("{}.", d.name)))
                .map(|(path, kind)| (path.clone(), *kind)),
        );
    }
    assert_eq!(
        actual, expected,
        "the answer's members and kinds differ from the sample's"
    );
}

/// Asserts that every member of `sample`, recursively, is in `answer` with
/// the sample's JSON kind, but those at or under the paths `absent` (as
/// [`shape`] names them), which the answer must not have. What the answer
/// has beyond the sample is for the guide's tables to hold.
pub fn assert_sample_covered(sample: &Value, answer: &Value, absent: &[&str]) {
    let actual = shape(answer);
    let under = |path: &str, a: &str| {
        path == a || path.starts_with(&format!("{a}.")) || path.starts_with(&format!("{a}[]"))
    };
    for a in absent {
        assert!(
            shape(sample).keys().any(|p| p == a),
            "{a} is not in the sample"
        );
        assert!(!actual.contains_key(*a), "{a} is in the answer: {answer}");
    }
    for (path, kind) in shape(sample) {
        if absent.iter().any(|a| under(&path, a)) {
            continue;
        }
        assert_eq!(
            actual.get(&path),
            Some(&kind),
            "the sample's {path} ({kind}) is not in the answer: {answer}"
        );
    }
}

/// The query of a URL as name → value.
pub fn query_of(url: &str) -> BTreeMap<String, String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}
