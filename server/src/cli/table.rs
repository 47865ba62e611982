//! Text that fits a terminal of 80 columns: cells cut with an ellipsis, long text wrapped at
//! spaces under an indent. Widths count characters (`char`s), which is what a terminal shows
//! for the text these tables carry (host names, addresses, sentences).

/// The width every table of the command line fits in.
pub const WIDTH: usize = 80;

/// `text` cut to at most `width` characters, the last one `…` when something was cut.
pub fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut out: String = text.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// `text` padded or cut to exactly `width` characters.
pub fn cell(text: &str, width: usize) -> String {
    let fitted = fit(text, width);
    let pad = width.saturating_sub(fitted.chars().count());
    format!("{fitted}{}", " ".repeat(pad))
}

/// `text` in lines of at most [`WIDTH`] characters: the first starts with `first` (already
/// that wide), the others with `indent` spaces; words longer than a line are cut.
pub fn wrap(first: &str, indent: usize, text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = first.to_string();
    let mut empty = true;
    for word in text.split_whitespace() {
        let used = line.chars().count();
        let room = WIDTH.saturating_sub(used + usize::from(!empty));
        if !empty && word.chars().count() > room {
            lines.push(std::mem::replace(&mut line, " ".repeat(indent)));
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        let room = WIDTH.saturating_sub(line.chars().count());
        line.push_str(&fit(word, room.max(1)));
        empty = false;
    }
    lines.push(line.trim_end().to_string());
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_cut_with_an_ellipsis_and_padded() {
        assert_eq!(fit("mx.example.org", 20), "mx.example.org");
        assert_eq!(fit("a-very-long-host-name.example.org", 10), "a-very-lo…");
        assert_eq!(cell("ab", 4), "ab  ");
        assert_eq!(cell("äöüäöü", 4).chars().count(), 4);
    }

    #[test]
    fn long_text_wraps_under_its_indent_within_80_columns() {
        let text = "the server offered STARTTLS before but now refuses it with 454 TLS not \
                    available due to temporary reason, and this sentence goes on for a while";
        let lines = wrap("    after:  ", 12, text);
        assert!(lines.len() > 1);
        assert!(
            lines.iter().all(|l| l.chars().count() <= WIDTH),
            "{lines:?}"
        );
        assert!(lines[0].starts_with("    after:  the server"));
        assert!(lines[1].starts_with(&" ".repeat(12)) && !lines[1].starts_with(&" ".repeat(13)));
        let joined: Vec<&str> = lines.iter().flat_map(|l| l.split_whitespace()).collect();
        assert_eq!(
            joined[1..].join(" "),
            text.split_whitespace().collect::<Vec<_>>().join(" ")
        );
        let huge = "x".repeat(200);
        assert!(
            wrap("", 4, &huge)
                .iter()
                .all(|l| l.chars().count() <= WIDTH)
        );
    }
}
