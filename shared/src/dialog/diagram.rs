//! The dialog as a picture: its cards and the branches between them as a layered
//! top-down graph ([`Diagram::of`]), drawn as SVG ([`Diagram::to_svg`]) or written as
//! Mermaid flowchart text ([`Diagram::to_mermaid`]). `livechat diagram` prints it;
//! the graph is kept apart from either drawing so that another view (an inbox
//! page) can draw the same one.
//!
//! A card's text is the dialog author's, and a dialog may come from anyone who can
//! edit the file: every text is escaped for the output it goes into, and the
//! output is a function of the dialog alone (no hash order, no clock), so that a
//! diagram checked into a repository changes only when the dialog does.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::format::{BranchTest, Card, Dialog, Link};
use crate::domain::{
    CardId, Combine, Condition, ConditionSet, ConditionValue, FallbackMessage, Lang, Operator,
    RoutingMode,
};

/// The most characters of a card's text shown in a box, on each of its two lines.
const LINE_CHARS: usize = 34;

/// One card as drawn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The card's id.
    pub id: CardId,
    /// The card's type as written in the file (`message`, `live_chat`...).
    pub kind: &'static str,
    /// What the card says or does, in one line: a message's text, a question's
    /// prompt, a goal's name.
    pub title: String,
    /// For a live chat card: how the agent is picked, and what happens when nobody
    /// takes the chat.
    pub routing: Option<String>,
    /// The layer, 0 for the start card: the longest path from it (cards the start
    /// card does not lead to come last, below every other).
    pub layer: usize,
}

/// One way from a card to another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edge {
    /// Index of the card it leaves, in [`Diagram::nodes`].
    pub from: usize,
    /// Index of the card it leads to.
    pub to: usize,
    /// The answer's label, the branch's condition, `otherwise` or `next`.
    pub label: String,
}

/// A dialog's cards and their links, laid out in layers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagram {
    /// The dialog's name.
    pub name: String,
    /// The cards, layer by layer, each layer in the order its cards are first
    /// reached from the start card (then file order).
    pub nodes: Vec<Node>,
    /// Every link whose target exists, in node order then link order.
    pub edges: Vec<Edge>,
}

impl Diagram {
    /// The diagram of `dialog`. `fallback` is the account's fallback message, named
    /// under each live chat card; `None` when the account is not known.
    /// Texts given per language are drawn in the dialog's fallback language.
    pub fn of(dialog: &Dialog, fallback: Option<&FallbackMessage>) -> Self {
        let lang = dialog.fallback_language();
        let index: BTreeMap<&CardId, usize> = dialog
            .cards
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id(), i))
            .collect();
        let links: Vec<Vec<(usize, String)>> = dialog
            .cards
            .iter()
            .map(|card| {
                card.links()
                    .into_iter()
                    .filter_map(|(link, to)| {
                        index.get(to).map(|&t| (t, link_label(card, link, &lang)))
                    })
                    .collect()
            })
            .collect();
        let order = reach_order(dialog, &index, &links);
        let layers = layers(dialog, &index, &links);
        let fallback_text = match fallback {
            Some(FallbackMessage::Standard) => "fallback: the standard message".to_string(),
            Some(FallbackMessage::Custom(text)) => {
                format!("fallback: \u{201c}{}\u{201d}", clip(text, LINE_CHARS))
            }
            None => "fallback: the account's message".to_string(),
        };
        // Cards sorted by layer, then by when they are first reached.
        let mut sorted: Vec<usize> = (0..dialog.cards.len()).collect();
        sorted.sort_by_key(|&i| (layers[i], order[i]));
        let position: BTreeMap<usize, usize> =
            sorted.iter().enumerate().map(|(at, &i)| (i, at)).collect();
        let nodes = sorted
            .iter()
            .map(|&i| {
                let card = &dialog.cards[i];
                Node {
                    id: card.id().clone(),
                    kind: card.type_name(),
                    title: title(card, &lang),
                    routing: match card {
                        Card::LiveChat(l) => {
                            Some(format!("{} · {fallback_text}", routing_text(&l.routing)))
                        }
                        _ => None,
                    },
                    layer: layers[i],
                }
            })
            .collect();
        let edges = sorted
            .iter()
            .flat_map(|&i| {
                let position = &position;
                links[i].iter().map(move |(to, label)| Edge {
                    from: position[&i],
                    to: position[to],
                    label: label.clone(),
                })
            })
            .collect();
        Self {
            name: dialog.name.clone(),
            nodes,
            edges,
        }
    }

    /// Mermaid flowchart text: one node line per card (`c0["..."]`, shaped by
    /// type), then one line per edge, each `c0 -->|label| c1`. Node names are
    /// `c` and the card's position, since card ids may hold characters Mermaid
    /// reads as syntax; every text is escaped with Mermaid's `#code;` entities, so
    /// an edge label holds no `|` and a node label no `"`.
    pub fn to_mermaid(&self) -> String {
        let mut out = String::from("flowchart TD\n");
        for (i, node) in self.nodes.iter().enumerate() {
            let mut label = format!("{} · {}<br/>{}", node.kind, node.id, node.title);
            if let Some(routing) = &node.routing {
                let _ = write!(label, "<br/>{routing}");
            }
            // The markup added above is ours; the texts in it are escaped.
            let label = mermaid_escape_keeping_breaks(&label);
            let (open, close) = match node.kind {
                "question" => ("{\"", "\"}"),
                "capture" => ("[/\"", "\"/]"),
                "goal" => ("([\"", "\"])"),
                "branch" => ("{{\"", "\"}}"),
                "live_chat" => ("[[\"", "\"]]"),
                _ => ("[\"", "\"]"),
            };
            let _ = writeln!(out, "  c{i}{open}{label}{close}");
        }
        for edge in &self.edges {
            let _ = writeln!(
                out,
                "  c{} -->|{}| c{}",
                edge.from,
                mermaid_escape(&edge.label),
                edge.to
            );
        }
        out
    }

    /// A standalone SVG: boxes in layers from the start card down, arrows between
    /// them labelled with the answer or condition, live chat cards outlined in
    /// their own colour with their routing under the text.
    pub fn to_svg(&self) -> String {
        const BOX_W: usize = 260;
        const BOX_H: usize = 76;
        const GAP_X: usize = 40;
        const GAP_Y: usize = 70;
        const MARGIN: usize = 30;
        const TITLE_H: usize = 40;
        let mut per_layer: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (i, node) in self.nodes.iter().enumerate() {
            per_layer.entry(node.layer).or_default().push(i);
        }
        let widest = per_layer.values().map(Vec::len).max().unwrap_or(1).max(1);
        let width = MARGIN * 2 + widest * BOX_W + (widest - 1) * GAP_X;
        let rows = per_layer.len().max(1);
        let height = MARGIN * 2 + TITLE_H + rows * BOX_H + (rows - 1) * GAP_Y;
        // Each node's top-left corner; every layer centred.
        let mut at = vec![(0usize, 0usize); self.nodes.len()];
        for (row, members) in per_layer.values().enumerate() {
            let used = members.len() * BOX_W + (members.len().saturating_sub(1)) * GAP_X;
            let left = (width - used) / 2;
            for (col, &i) in members.iter().enumerate() {
                at[i] = (
                    left + col * (BOX_W + GAP_X),
                    MARGIN + TITLE_H + row * (BOX_H + GAP_Y),
                );
            }
        }
        let mut out = String::new();
        let _ = writeln!(
            out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"system-ui, sans-serif\" font-size=\"12\">"
        );
        let _ = writeln!(out, "<title>{}</title>", xml_escape(&self.name));
        out.push_str("<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"8\" markerHeight=\"8\" orient=\"auto-start-reverse\"><path d=\"M 0 0 L 10 5 L 0 10 z\" fill=\"#495057\"/></marker></defs>\n");
        let _ = writeln!(
            out,
            "<rect width=\"{width}\" height=\"{height}\" fill=\"#ffffff\"/>\n<text x=\"{MARGIN}\" y=\"{}\" font-size=\"16\" font-weight=\"bold\" fill=\"#212529\">{}</text>",
            MARGIN + 16,
            xml_escape(&self.name)
        );
        for edge in &self.edges {
            let (fx, fy) = at[edge.from];
            let (tx, ty) = at[edge.to];
            let (x1, y1) = (fx + BOX_W / 2, fy + BOX_H);
            let (x2, y2) = (tx + BOX_W / 2, ty);
            let _ = writeln!(
                out,
                "<g class=\"edge\"><line x1=\"{x1}\" y1=\"{y1}\" x2=\"{x2}\" y2=\"{y2}\" stroke=\"#495057\" stroke-width=\"1.5\" marker-end=\"url(#arrow)\"/><text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#1864ab\" stroke=\"#ffffff\" stroke-width=\"3\" paint-order=\"stroke\">{}</text></g>",
                (x1 + x2) / 2,
                (y1 + y2) / 2 + 4,
                xml_escape(&clip(&edge.label, LINE_CHARS))
            );
        }
        for (i, node) in self.nodes.iter().enumerate() {
            let (x, y) = at[i];
            let (fill, stroke) = match node.kind {
                "question" => ("#e7f5ff", "#1c7ed6"),
                "capture" => ("#f3f0ff", "#7048e8"),
                "goal" => ("#ebfbee", "#37b24d"),
                "branch" => ("#fff9db", "#f59f00"),
                "live_chat" => ("#fff0f6", "#d6336c"),
                _ => ("#f8f9fa", "#868e96"),
            };
            let stroke_width = if node.kind == "live_chat" { 3 } else { 1 };
            let _ = writeln!(
                out,
                "<g class=\"card\" data-card=\"{}\"><rect x=\"{x}\" y=\"{y}\" width=\"{BOX_W}\" height=\"{BOX_H}\" rx=\"8\" fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"{stroke_width}\"/>",
                xml_escape(node.id.as_str())
            );
            let _ = writeln!(
                out,
                "<text x=\"{}\" y=\"{}\" font-size=\"10\" fill=\"#495057\">{} · {}</text>",
                x + 10,
                y + 16,
                node.kind,
                xml_escape(node.id.as_str())
            );
            let (first, second) = two_lines(&node.title);
            for (n, line) in [first, second].iter().enumerate() {
                if !line.is_empty() {
                    let _ = writeln!(
                        out,
                        "<text x=\"{}\" y=\"{}\" fill=\"#212529\">{}</text>",
                        x + 10,
                        y + 34 + n * 15,
                        xml_escape(line)
                    );
                }
            }
            if let Some(routing) = &node.routing {
                let _ = writeln!(
                    out,
                    "<text x=\"{}\" y=\"{}\" font-size=\"10\" font-weight=\"bold\" fill=\"#a61e4d\">{}</text>",
                    x + 10,
                    y + BOX_H - 8,
                    xml_escape(&clip(routing, LINE_CHARS + 12))
                );
            }
            out.push_str("</g>\n");
        }
        out.push_str("</svg>\n");
        out
    }
}

/// What the arrow of `link` out of `card` says.
fn link_label(card: &Card, link: Link, lang: &Lang) -> String {
    match (card, link) {
        (Card::Question(q), Link::Answer(i)) => q
            .answers
            .get(i)
            .map_or_else(|| link.to_string(), |a| a.label.pick(lang, lang).to_owned()),
        (Card::Branch(b), Link::Branch(i)) => b.branches.get(i).map_or_else(
            || link.to_string(),
            |branch| match &branch.test {
                BranchTest::When(set) => condition_text(set),
                BranchTest::AgentsAvailable(true) => "an agent is available".into(),
                BranchTest::AgentsAvailable(false) => "no agent is available".into(),
            },
        ),
        _ => link.to_string(),
    }
}

fn condition_text(set: &ConditionSet) -> String {
    let joiner = match set.combine {
        Combine::All => " and ",
        Combine::Any => " or ",
    };
    let parts: Vec<String> = set.conditions.iter().map(one_condition).collect();
    if parts.is_empty() {
        return match set.combine {
            Combine::All => "always".into(),
            Combine::Any => "never".into(),
        };
    }
    parts.join(joiner)
}

fn one_condition(c: &Condition) -> String {
    let op = match c.operator {
        Operator::Equals => "=",
        Operator::NotEquals => "≠",
        Operator::Contains => "contains",
        Operator::StartsWith => "starts with",
        Operator::EndsWith => "ends with",
        Operator::InList => "in",
        Operator::IsEmpty => "is empty",
        Operator::Greater => ">",
        Operator::Less => "<",
    };
    match &c.value {
        None => format!("{} {op}", c.attribute),
        Some(ConditionValue::One(v)) => format!("{} {op} {v}", c.attribute),
        Some(ConditionValue::Number(n)) => format!("{} {op} {n}", c.attribute),
        Some(ConditionValue::List(items)) => format!("{} {op} [{}]", c.attribute, items.join(", ")),
    }
}

/// The card's text in one line.
fn title(card: &Card, lang: &Lang) -> String {
    let text = match card {
        Card::Message(m) => m.text.pick(lang, lang).to_owned(),
        Card::Question(q) => q.prompt.pick(lang, lang).to_owned(),
        Card::Capture(c) => {
            let field = match c.field {
                super::FieldType::Email => "email",
                super::FieldType::Phone => "phone",
                super::FieldType::Text => "text",
                super::FieldType::Picklist => "picklist",
            };
            format!("{} ({field} → {})", c.prompt.pick(lang, lang), c.attribute)
        }
        Card::Goal(g) => match g.score {
            Some(score) => format!("goal: {} (score {score})", g.name),
            None => format!("goal: {}", g.name),
        },
        Card::Branch(_) => "branch".into(),
        Card::LiveChat(l) => l.connecting_text(lang, lang).to_string(),
    };
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// How a live chat card picks its agent, in words.
fn routing_text(mode: &RoutingMode) -> String {
    match mode {
        RoutingMode::RoundRobin => "round robin".into(),
        RoutingMode::Agent { agent } => format!("agent {agent}"),
        RoutingMode::CustomRules { rules } => format!(
            "rules {}",
            rules
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        RoutingMode::Team { team } => format!("team {team}"),
    }
}

/// The order in which a walk from the start card, following links in file order,
/// first reaches each card; cards it never reaches follow in file order.
fn reach_order(
    dialog: &Dialog,
    index: &BTreeMap<&CardId, usize>,
    links: &[Vec<(usize, String)>],
) -> Vec<usize> {
    let n = dialog.cards.len();
    let mut order = vec![usize::MAX; n];
    let mut next = 0;
    let mut queue = std::collections::VecDeque::new();
    if let Some(&start) = index.get(&dialog.start) {
        order[start] = next;
        next += 1;
        queue.push_back(start);
    }
    while let Some(i) = queue.pop_front() {
        for &(to, _) in &links[i] {
            if order[to] == usize::MAX {
                order[to] = next;
                next += 1;
                queue.push_back(to);
            }
        }
    }
    for slot in order.iter_mut().filter(|o| **o == usize::MAX) {
        *slot = next;
        next += 1;
    }
    order
}

/// Each card's layer: the longest path to it from the start card, so that every
/// arrow of an acyclic dialog points down. A dialog with a cycle (which the
/// validator refuses, but a diagram may still be asked of) falls back to the
/// shortest path. Cards not reached sit one layer below the deepest.
fn layers(
    dialog: &Dialog,
    index: &BTreeMap<&CardId, usize>,
    links: &[Vec<(usize, String)>],
) -> Vec<usize> {
    let n = dialog.cards.len();
    let mut layer = vec![None::<usize>; n];
    let Some(&start) = index.get(&dialog.start) else {
        return vec![0; n];
    };
    layer[start] = Some(0);
    let mut settled = false;
    // A longest path visits each card once: n rounds settle any acyclic dialog.
    for _ in 0..=n {
        let mut changed = false;
        for from in 0..n {
            let Some(depth) = layer[from] else { continue };
            for &(to, _) in &links[from] {
                if to != start && layer[to].is_none_or(|d| d < depth + 1) {
                    layer[to] = Some(depth + 1);
                    changed = true;
                }
            }
        }
        if !changed {
            settled = true;
            break;
        }
    }
    if !settled {
        // A cycle: shortest paths instead.
        layer = vec![None; n];
        layer[start] = Some(0);
        let mut queue = std::collections::VecDeque::from([start]);
        while let Some(i) = queue.pop_front() {
            let depth = layer[i].unwrap_or(0);
            for &(to, _) in &links[i] {
                if layer[to].is_none() {
                    layer[to] = Some(depth + 1);
                    queue.push_back(to);
                }
            }
        }
    }
    let below = layer.iter().flatten().max().map_or(0, |d| d + 1);
    layer.into_iter().map(|d| d.unwrap_or(below)).collect()
}

/// `text` cut to `max` characters, ending with `…` when cut.
fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// `text` on two lines of at most [`LINE_CHARS`] characters, broken at a space
/// where it can be; the second cut with `…` when the text is longer.
fn two_lines(text: &str) -> (String, String) {
    if text.chars().count() <= LINE_CHARS {
        return (text.to_string(), String::new());
    }
    let head: String = text.chars().take(LINE_CHARS).collect();
    let cut = head.rfind(' ').filter(|&at| at > 0).unwrap_or(head.len());
    let first = text[..cut].trim_end().to_string();
    let rest = text[cut..].trim_start();
    (first, clip(rest, LINE_CHARS))
}

/// Text for an XML text node or attribute value: the five markup characters as
/// entities, and the control characters XML 1.0 does not allow dropped.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Text inside a quoted Mermaid label: what Mermaid or the HTML it renders into
/// would read as syntax, as Mermaid's `#code;` entities; line breaks as spaces.
fn mermaid_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '#' => out.push_str("#35;"),
            '&' => out.push_str("#amp;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '|' => out.push_str("#124;"),
            '[' => out.push_str("#91;"),
            ']' => out.push_str("#93;"),
            '{' => out.push_str("#123;"),
            '}' => out.push_str("#125;"),
            '`' => out.push_str("#96;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// [`mermaid_escape`] of the parts between our own `<br/>` line breaks.
fn mermaid_escape_keeping_breaks(label: &str) -> String {
    label
        .split("<br/>")
        .map(mermaid_escape)
        .collect::<Vec<_>>()
        .join("<br/>")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo() -> Dialog {
        Dialog::from_yaml(crate::demo::DIALOG_YAML).unwrap()
    }

    #[test]
    fn the_demo_dialogs_diagram_names_every_card_and_every_branch() {
        let dialog = demo();
        let diagram = Diagram::of(&dialog, Some(&FallbackMessage::Standard));
        let svg = diagram.to_svg();
        let mermaid = diagram.to_mermaid();
        assert_eq!(diagram.nodes.len(), dialog.cards.len());
        for card in &dialog.cards {
            let id = card.id().as_str();
            assert!(
                svg.contains(&format!("data-card=\"{id}\"")),
                "{id} in the SVG"
            );
            assert!(
                mermaid.contains(&format!(" · {id}<br/>")),
                "{id} in Mermaid"
            );
        }
        let links: usize = dialog.cards.iter().map(|c| c.links().len()).sum();
        assert_eq!(diagram.edges.len(), links, "one edge per link");
        for label in [
            "Yes",
            "No thanks",
            "an agent is available",
            "company_size > 500",
            "otherwise",
        ] {
            let edges = diagram.edges.iter().filter(|e| e.label == label).count();
            assert!(edges >= 1, "{label}: {:?}", diagram.edges);
            assert!(
                svg.contains(&format!(">{}</text>", xml_escape(label))),
                "{label} in the SVG"
            );
        }
        // The live chat cards say how they route, and the fallback.
        for (card, routing) in [("talk", "team sales"), ("talk_enterprise", "agent ana")] {
            let node = diagram
                .nodes
                .iter()
                .find(|n| n.id.as_str() == card)
                .unwrap();
            assert_eq!(
                node.routing.as_deref(),
                Some(format!("{routing} · fallback: the standard message").as_str())
            );
        }
        // Layered from the start card down: every edge of this acyclic dialog
        // points to a lower layer.
        assert_eq!(diagram.nodes[0].id.as_str(), "greeting");
        assert_eq!(diagram.nodes[0].layer, 0);
        for e in &diagram.edges {
            assert!(
                diagram.nodes[e.to].layer > diagram.nodes[e.from].layer,
                "{e:?}"
            );
        }
    }

    #[test]
    fn a_card_title_with_a_script_tag_is_escaped_in_both_outputs() {
        let yaml = "id: d\nname: \"<script>alert('n')</script>\"\nstart: a\ncards:\n  - id: a\n    type: message\n    text: \"<script>alert(1)</script> & \\\"q\\\" | x] #y\"\n    next: b\n  - id: b\n    type: question\n    prompt: Go?\n    answers:\n      - label: \"<b>yes</b> |\\\"]\"\n        next: c\n      - label: no\n  - id: c\n    type: live_chat\n    routing: { mode: round_robin }\n";
        let dialog = Dialog::from_yaml(yaml).unwrap();
        let diagram = Diagram::of(
            &dialog,
            Some(&FallbackMessage::Custom("<img src=x>".into())),
        );
        let svg = diagram.to_svg();
        assert!(!svg.contains("<script"), "{svg}");
        assert!(!svg.contains("<b>"), "{svg}");
        assert!(!svg.contains("<img"), "{svg}");
        assert!(
            svg.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;q&quot;"),
            "{svg}"
        );
        assert!(svg.contains("<title>&lt;script&gt;alert(&apos;n&apos;)&lt;/script&gt;</title>"));
        let mermaid = diagram.to_mermaid();
        assert!(!mermaid.contains("<script"), "{mermaid}");
        assert!(!mermaid.contains("<b>"), "{mermaid}");
        assert!(
            mermaid.contains(
                "#lt;script#gt;alert(1)#lt;/script#gt; #amp; #quot;q#quot; #124; x#93; #35;y"
            ),
            "{mermaid}"
        );
        assert!(
            mermaid.contains("-->|#lt;b#gt;yes#lt;/b#gt; #124;#quot;#93;|"),
            "{mermaid}"
        );
    }

    #[test]
    fn mermaid_output_is_a_flowchart_of_node_lines_and_labelled_edge_lines() {
        let dialog = demo();
        let diagram = Diagram::of(&dialog, None);
        let mermaid = diagram.to_mermaid();
        let mut lines = mermaid.lines();
        assert_eq!(lines.next(), Some("flowchart TD"));
        let node = |l: &str| {
            let Some(rest) = l.strip_prefix("  c") else {
                return false;
            };
            let digits = rest.chars().take_while(char::is_ascii_digit).count();
            let shape = &rest[digits..];
            let shapes = [
                ("[\"", "\"]"),
                ("{\"", "\"}"),
                ("[/\"", "\"/]"),
                ("([\"", "\"])"),
                ("{{\"", "\"}}"),
                ("[[\"", "\"]]"),
            ];
            digits > 0
                && shapes.iter().any(|(open, close)| {
                    shape.len() >= open.len() + close.len()
                        && shape.starts_with(open)
                        && shape.ends_with(close)
                        && !shape[open.len()..shape.len() - close.len()].contains('"')
                })
        };
        let edge = |l: &str| -> Option<(usize, String, usize)> {
            let rest = l.strip_prefix("  c")?;
            let (from, rest) = rest.split_once(" -->|")?;
            let (label, to) = rest.split_once("| c")?;
            if label.contains(['"', '|']) {
                return None;
            }
            Some((from.parse().ok()?, label.to_string(), to.parse().ok()?))
        };
        let (mut nodes, mut edges) = (0, Vec::new());
        for line in lines {
            if let Some(e) = edge(line) {
                edges.push(e);
            } else {
                assert!(node(line), "neither a node nor an edge line: {line:?}");
                assert!(edges.is_empty(), "node lines come first: {line:?}");
                nodes += 1;
            }
        }
        assert_eq!(nodes, dialog.cards.len());
        assert_eq!(edges.len(), diagram.edges.len());
        assert!(edges.iter().all(|(f, _, t)| *f < nodes && *t < nodes));
        assert!(
            edges.contains(&(
                1,
                "Yes".into(),
                diagram
                    .nodes
                    .iter()
                    .position(|n| n.id.as_str() == "first_name")
                    .unwrap()
            ))
        );
    }

    #[test]
    fn the_same_dialog_draws_the_same_bytes() {
        let dialog = demo();
        let a = Diagram::of(&dialog, None);
        let b = Diagram::of(&dialog.clone(), None);
        assert_eq!(a.to_svg(), b.to_svg());
        assert_eq!(a.to_mermaid(), b.to_mermaid());
    }

    #[test]
    fn a_dialog_with_a_cycle_or_an_unreached_card_still_draws() {
        let yaml = "id: d\nname: D\nstart: a\ncards:\n  - id: a\n    type: message\n    text: A\n    next: b\n  - id: b\n    type: message\n    text: B\n    next: a\n  - id: lost\n    type: message\n    text: nobody comes here\n";
        let dialog = Dialog::from_yaml(yaml).unwrap();
        let diagram = Diagram::of(&dialog, None);
        let layers: Vec<(&str, usize)> = diagram
            .nodes
            .iter()
            .map(|n| (n.id.as_str(), n.layer))
            .collect();
        assert_eq!(layers, [("a", 0), ("b", 1), ("lost", 2)]);
        assert_eq!(diagram.edges.len(), 2);
    }
}
