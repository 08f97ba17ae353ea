//! Module Markdown made readable in a terminal: headings underlined, list bullets, tables as
//! aligned columns (or one block per row when too wide), emphasis markers dropped.

/// Widest table printed as columns; wider ones become one block per row.
const MAX_TABLE_WIDTH: usize = 100;

/// Renders Markdown as plain terminal text.
pub fn markdown(md: &str) -> String {
    let mut out = String::new();
    let mut table: Vec<Vec<String>> = Vec::new();
    let mut in_code = false;
    let mut in_list = false;
    for line in md.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            out.push_str("    ");
            out.push_str(line);
            out.push('\n');
            continue;
        }
        if trimmed.starts_with('|') {
            let cells: Vec<String> = trimmed
                .trim()
                .trim_matches('|')
                .split('|')
                .map(|c| inline(c.trim()))
                .collect();
            let separator = cells
                .iter()
                .all(|c| !c.is_empty() && c.chars().all(|ch| matches!(ch, '-' | ':' | ' ')));
            if !separator {
                table.push(cells);
            }
            continue;
        }
        if !table.is_empty() {
            out.push_str(&render_table(&table));
            table.clear();
        }
        in_list = in_list && !trimmed.is_empty();
        if let Some(h) = trimmed.strip_prefix("# ") {
            let h = inline(h);
            out.push_str(&format!(
                "{}\n{}\n",
                h.to_uppercase(),
                "=".repeat(h.chars().count())
            ));
        } else if let Some(h) = trimmed.strip_prefix("## ") {
            let h = inline(h);
            out.push_str(&format!("{h}\n{}\n", "-".repeat(h.chars().count())));
        } else if let Some(h) = trimmed
            .strip_prefix("### ")
            .or_else(|| trimmed.strip_prefix("#### "))
        {
            out.push_str(&format!("> {}\n", inline(h)));
        } else if let Some(item) = trimmed
            .strip_prefix("- ")
            .or_else(|| trimmed.strip_prefix("* "))
        {
            let indent = line.len() - trimmed.len();
            out.push_str(&format!("{}  • {}\n", " ".repeat(indent), inline(item)));
            in_list = true;
            continue;
        } else if in_list && line.starts_with(' ') && !trimmed.is_empty() {
            // A list item's continuation line: align it under the item's text.
            out.push_str(&format!("  {}\n", inline(line)));
            continue;
        } else if let Some(quote) = trimmed.strip_prefix('>') {
            out.push_str(&format!("  │ {}\n", inline(quote.trim_start())));
        } else {
            out.push_str(&inline(line));
            out.push('\n');
        }
    }
    if !table.is_empty() {
        out.push_str(&render_table(&table));
    }
    out
}

fn render_table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0; columns];
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let total: usize = widths.iter().sum::<usize>() + 2 * columns;
    let mut out = String::new();
    if total <= MAX_TABLE_WIDTH {
        for (r, row) in rows.iter().enumerate() {
            let line: Vec<String> = row
                .iter()
                .enumerate()
                .map(|(i, c)| format!("{c:<width$}", width = widths[i]))
                .collect();
            out.push_str(&format!("  {}\n", line.join("  ").trim_end()));
            if r == 0 {
                let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
                out.push_str(&format!("  {}\n", rule.join("  ")));
            }
        }
        return out;
    }
    // Too wide for columns: one block per row, each cell named by its header.
    let header = &rows[0];
    for row in &rows[1..] {
        let mut cells = row.iter().enumerate();
        if let Some((_, first)) = cells.next() {
            out.push_str(&format!("  • {first}\n"));
        }
        for (i, cell) in cells {
            let name = header.get(i).map_or("", String::as_str);
            out.push_str(&format!("      {name}: {cell}\n"));
        }
    }
    out
}

/// Drops emphasis and code markers; links become `text (url)`.
fn inline(text: &str) -> String {
    let mut s = text.replace("**", "").replace("__", "").replace('`', "");
    while let Some(open) = s.find('[') {
        let Some(mid) = s[open..].find("](").map(|i| open + i) else {
            break;
        };
        let Some(close) = s[mid..].find(')').map(|i| mid + i) else {
            break;
        };
        let label = s[open + 1..mid].to_owned();
        let url = s[mid + 2..close].to_owned();
        s.replace_range(open..=close, &format!("{label} ({url})"));
    }
    // Single-star emphasis around words: `*allowed*` → `allowed`.
    let mut out = String::with_capacity(s.len());
    let chars: Vec<char> = s.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        if *c == '*' {
            let before = i.checked_sub(1).and_then(|j| chars.get(j));
            let after = chars.get(i + 1);
            let opens = after.is_some_and(|a| a.is_alphanumeric())
                && before.is_none_or(|b| !b.is_alphanumeric());
            let closes = before.is_some_and(|b| b.is_alphanumeric() || b.is_ascii_punctuation())
                && after.is_none_or(|a| !a.is_alphanumeric());
            if opens || closes {
                continue;
            }
        }
        out.push(*c);
    }
    out
}

/// Word-wraps one paragraph to `width` columns; lines after the first start with `indent`.
pub fn wrap(text: &str, width: usize, indent: &str) -> String {
    let lead = &text[..text.len() - text.trim_start().len()];
    let mut out = lead.to_owned();
    let mut line_len = lead.chars().count();
    let mut first = true;
    for word in text.split_whitespace() {
        let len = word.chars().count();
        if !first && line_len + 1 + len > width {
            out.push('\n');
            out.push_str(indent);
            line_len = indent.chars().count();
        } else if !first {
            out.push(' ');
            line_len += 1;
        }
        out.push_str(word);
        line_len += len;
        first = false;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_breaks_between_words_and_indents() {
        assert_eq!(wrap("aa bb cc dd", 5, "  "), "aa bb\n  cc\n  dd");
        assert_eq!(wrap("short", 80, ""), "short");
        assert_eq!(wrap("  a) one two", 8, "     "), "  a) one\n     two");
    }

    #[test]
    fn headings_lists_emphasis_and_tables_become_plain_text() {
        let md = "# Data handling\n\nSort *every* item, **carefully**, see `GOV-103`.\n\n## Buckets\n\n- Allowed\n  - nested\n\n| Bucket | Meaning |\n| --- | --- |\n| Allowed | As is |\n| Never | Not at all |\n\n> Ask first.\n";
        let out = markdown(md);
        assert!(out.contains("DATA HANDLING\n============="), "{out}");
        assert!(
            out.contains("Sort every item, carefully, see GOV-103."),
            "{out}"
        );
        assert!(out.contains("Buckets\n-------"), "{out}");
        assert!(out.contains("  • Allowed\n    • nested"), "{out}");
        assert!(
            out.contains(
                "  Bucket   Meaning\n  -------  ----------\n  Allowed  As is\n  Never    Not at all"
            ),
            "{out}"
        );
        assert!(out.contains("  │ Ask first."), "{out}");
        assert!(!out.contains('|') && !out.contains("**"), "{out}");
    }

    #[test]
    fn wide_tables_become_blocks_and_links_keep_their_target() {
        let long = "x".repeat(120);
        let md = format!(
            "| A | B |\n|---|---|\n| one | {long} |\n\nSee [the policy](https://example.invalid/p).\n"
        );
        let out = markdown(&md);
        assert!(out.contains("  • one\n      B: xxx"), "{out}");
        assert!(
            out.contains("See the policy (https://example.invalid/p)."),
            "{out}"
        );
    }
}
