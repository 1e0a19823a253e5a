//! PDF rendering for Fieldsync invoices and customer statements.
//!
//! This crate turns an already formatted [`InvoiceSheet`] or [`StatementSheet`]
//! into the bytes of a PDF document ([`invoice_pdf`], [`statement_pdf`]). All
//! strings (amounts, dates, statuses) arrive formatted by the caller; the
//! renderer only does layout.
//!
//! # Output
//!
//! * US Letter pages (612 × 792 pt) with 50 pt margins.
//! * Text is set in the standard Type 1 fonts Helvetica and Helvetica-Bold
//!   (not embedded) with `WinAnsiEncoding`. Every `char` is mapped to its
//!   WinAnsi byte: ASCII, the Latin-1 range U+00A0..=U+00FF, and the
//!   Windows-1252 specials in 0x80..=0x9F (€, –, —, ‘, ’, “, ”, •, …, ™ and so
//!   on). Any other character is printed as `?`.
//! * Text is written with `Tj` operators, so it can be extracted by ordinary
//!   PDF text extractors.
//! * Numbers are right-aligned using the standard Adobe font metrics of
//!   Helvetica and Helvetica-Bold.
//! * Content streams and the signature image are Flate (zlib) compressed with
//!   `miniz_oxide` (already in the build through the image decoders).
//!
//! # Robustness
//!
//! Rendering never panics and never fails: over-long text is wrapped or
//! elided with "…", tables flow onto further pages with their header
//! repeated, every page carries a "Page n of m" footer, and a signature whose
//! pixel buffer does not match its dimensions is left out (the signer and
//! time are still printed). To keep the output bounded, a table shows at most
//! [`MAX_TABLE_ROWS`] rows (a final row says how many were left out) and a cell
//! wraps to at most [`MAX_CELL_LINES`] lines.
//!

#![warn(missing_docs)]

use pdf_writer::{Content, Filter, Name, Pdf, Rect, Ref, Str, TextStr};

/// The most rows one table shows; further rows are summarised in one line.
pub const MAX_TABLE_ROWS: usize = 5_000;

/// The most lines one table cell (or one wrapped block of text) wraps to;
/// the last shown line ends with "…" when text was cut.
pub const MAX_CELL_LINES: usize = 12;

/// The seller shown in the page header: the company's name large at the top left, its
/// address lines and phone (left out when empty) under it.
pub use fieldsync_protocol::Company;

/// An address block: the customer ("Bill to") or the service site.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Party {
    /// Name, printed in bold.
    pub name: String,
    /// Address and contact lines, one entry per printed line.
    pub lines: Vec<String>,
}

/// One line item of an invoice.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SheetLine {
    /// What was sold or done; wrapped over several lines when long.
    pub description: String,
    /// Formatted quantity, e.g. `"2"` or `"1.5 h"`.
    pub quantity: String,
    /// Formatted unit price, e.g. `"$45.00"`.
    pub unit_price: String,
    /// Formatted line amount, e.g. `"$90.00"`.
    pub amount: String,
}

/// One payment recorded against an invoice.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PaymentLine {
    /// Formatted payment date.
    pub date: String,
    /// Payment method, e.g. `"Card"` or `"Check"`.
    pub method: String,
    /// Reference such as a check number or card transaction id.
    pub reference: String,
    /// Formatted amount paid.
    pub amount: String,
}

/// A customer's captured signature.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Signature {
    /// Name of the person who signed.
    pub signer: String,
    /// Formatted time of signing.
    pub signed_at: String,
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
    /// 8-bit grayscale pixels, row-major, `width * height` bytes. When the
    /// length does not match, the image is left out but the signer and time
    /// are still printed.
    pub gray: Vec<u8>,
}

/// Everything printed on an invoice.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InvoiceSheet {
    /// The issuing company.
    pub company: Company,
    /// Invoice number.
    pub number: String,
    /// Formatted issue date.
    pub date: String,
    /// Formatted due date.
    pub due: String,
    /// Status label, e.g. `"Open"` or `"Paid"`.
    pub status: String,
    /// The billed customer ("Bill to").
    pub customer: Party,
    /// The service address, when it differs from the billing address.
    pub site: Option<Party>,
    /// Job title or summary, printed as "Job: …".
    pub job: String,
    /// Line items.
    pub lines: Vec<SheetLine>,
    /// Formatted subtotal.
    pub subtotal: String,
    /// Tax row label, e.g. `"Tax 8.25%"`.
    pub tax_label: String,
    /// Formatted tax amount.
    pub tax: String,
    /// Formatted invoice total.
    pub total: String,
    /// Payments received.
    pub payments: Vec<PaymentLine>,
    /// Formatted sum of payments.
    pub paid: String,
    /// Formatted amount still owed.
    pub balance_due: String,
    /// The customer's signature, or `None` for a blank signature line.
    pub signature: Option<Signature>,
    /// When `Some`, the invoice is marked "VOID" with this reason.
    pub void_reason: Option<String>,
}

/// One row of a statement's account activity.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatementLine {
    /// Formatted date.
    pub date: String,
    /// What happened, e.g. `"Invoice INV-1001"`.
    pub description: String,
    /// Formatted charge, or empty.
    pub charge: String,
    /// Formatted payment, or empty.
    pub payment: String,
    /// Formatted running balance.
    pub balance: String,
}

/// Everything printed on a customer statement.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatementSheet {
    /// The issuing company.
    pub company: Company,
    /// The customer the statement is for.
    pub customer: Party,
    /// Formatted statement period, e.g. `"Mar 1 – Mar 31, 2025"`.
    pub period: String,
    /// Formatted issue date.
    pub issued: String,
    /// Formatted balance at the start of the period.
    pub opening_balance: String,
    /// Activity during the period.
    pub lines: Vec<StatementLine>,
    /// Formatted balance at the end of the period.
    pub closing_balance: String,
    /// Open invoices as (number, date, due, balance).
    pub open_invoices: Vec<(String, String, String, String)>,
    /// Aging summary as (bucket label, amount), e.g. `("31–60 days", "$120.00")`.
    pub aging: Vec<(String, String)>,
}

// ---------------------------------------------------------------------------
// Page geometry
// ---------------------------------------------------------------------------

const PAGE_W: f32 = 612.0;
const PAGE_H: f32 = 792.0;
const LEFT: f32 = 50.0;
const RIGHT: f32 = PAGE_W - 50.0;
const TOP: f32 = PAGE_H - 50.0;
/// Lowest y the flowing content may reach; the footer sits below it.
const BOTTOM: f32 = 68.0;
const FOOTER_Y: f32 = 50.0;

const BODY: f32 = 10.0;
const SMALL: f32 = 8.5;
const ROW_LEADING: f32 = 12.5;
const ROW_PAD: f32 = 5.0;
const HEADER_H: f32 = 18.0;

const LABEL_GRAY: f32 = 0.4;
const RULE_GRAY: f32 = 0.82;
const BAND_GRAY: f32 = 0.92;

const SIG_MAX_W: f32 = 200.0;
const SIG_MAX_H: f32 = 70.0;
/// Signatures larger than this many pixels are left out.
const SIG_MAX_PIXELS: usize = 16 * 1024 * 1024;

const IMAGE_NAME: Name<'static> = Name(b"Im1");

// ---------------------------------------------------------------------------
// Fonts and text encoding
// ---------------------------------------------------------------------------

/// Helvetica advance widths (1/1000 em) for WinAnsi codes 32..=255.
const HELVETICA_WIDTHS: [u16; 224] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556,
    556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667,
    611, 778, 722, 278, 500, 667, 556, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667,
    667, 611, 278, 278, 278, 469, 556, 333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500,
    222, 833, 556, 556, 556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
    350, 556, 350, 222, 556, 333, 1000, 556, 556, 333, 1000, 667, 333, 1000, 350, 611, 350, 350,
    222, 222, 333, 333, 350, 556, 1000, 333, 1000, 500, 333, 944, 350, 500, 667, 278, 333, 556,
    556, 556, 556, 260, 556, 333, 737, 370, 556, 584, 333, 737, 333, 400, 584, 333, 333, 333, 556,
    537, 278, 333, 333, 365, 556, 834, 834, 834, 611, 667, 667, 667, 667, 667, 667, 1000, 722, 667,
    667, 667, 667, 278, 278, 278, 278, 722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722,
    722, 667, 667, 611, 556, 556, 556, 556, 556, 556, 889, 500, 556, 556, 556, 556, 278, 278, 278,
    278, 556, 556, 556, 556, 556, 556, 556, 584, 611, 556, 556, 556, 556, 500, 556, 500,
];

/// Helvetica-Bold advance widths (1/1000 em) for WinAnsi codes 32..=255.
const HELVETICA_BOLD_WIDTHS: [u16; 224] = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556,
    556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611, 975, 722, 722, 722, 722, 667,
    611, 778, 722, 278, 556, 722, 611, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667,
    667, 611, 333, 278, 333, 584, 556, 333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556,
    278, 889, 611, 611, 611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584,
    350, 556, 350, 278, 556, 500, 1000, 556, 556, 333, 1000, 667, 333, 1000, 350, 611, 350, 350,
    278, 278, 500, 500, 350, 556, 1000, 333, 1000, 556, 333, 944, 350, 500, 667, 278, 333, 556,
    556, 556, 556, 280, 556, 333, 737, 370, 556, 584, 333, 737, 333, 400, 584, 333, 333, 333, 611,
    556, 278, 333, 333, 365, 556, 834, 834, 834, 611, 722, 722, 722, 722, 722, 722, 1000, 722, 667,
    667, 667, 667, 278, 278, 278, 278, 722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722,
    722, 667, 667, 611, 556, 556, 556, 556, 556, 556, 889, 556, 556, 556, 556, 556, 278, 278, 278,
    278, 611, 611, 611, 611, 611, 611, 611, 584, 611, 611, 611, 611, 611, 556, 611, 556,
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Font {
    Regular,
    Bold,
}

impl Font {
    fn resource(self) -> Name<'static> {
        match self {
            Font::Regular => Name(b"F1"),
            Font::Bold => Name(b"F2"),
        }
    }

    /// Advance width of one WinAnsi byte in 1/1000 em.
    fn advance(self, byte: u8) -> u16 {
        let table = match self {
            Font::Regular => &HELVETICA_WIDTHS,
            Font::Bold => &HELVETICA_BOLD_WIDTHS,
        };
        usize::from(byte)
            .checked_sub(32)
            .and_then(|i| table.get(i))
            .copied()
            .unwrap_or(278)
    }

    /// Width in points of `text` set at `size`.
    fn width(self, text: &[u8], size: f32) -> f32 {
        let units: u64 = text.iter().map(|&b| u64::from(self.advance(b))).sum();
        units as f32 / 1000.0 * size
    }
}

/// WinAnsi code of the horizontal ellipsis "…".
const ELLIPSIS: u8 = 0x85;

/// Maps one character to its WinAnsiEncoding byte, or `?` when it has none.
fn win_ansi(c: char) -> u8 {
    match c {
        ' '..='~' | '\u{A0}'..='\u{FF}' => c as u8,
        '\t' | '\n' | '\r' => b' ',
        '€' => 0x80,
        '‚' => 0x82,
        'ƒ' => 0x83,
        '„' => 0x84,
        '…' => 0x85,
        '†' => 0x86,
        '‡' => 0x87,
        'ˆ' => 0x88,
        '‰' => 0x89,
        'Š' => 0x8A,
        '‹' => 0x8B,
        'Œ' => 0x8C,
        'Ž' => 0x8E,
        '\u{2018}' => 0x91,
        '\u{2019}' => 0x92,
        '\u{201C}' => 0x93,
        '\u{201D}' => 0x94,
        '•' => 0x95,
        '–' => 0x96,
        '—' => 0x97,
        '˜' => 0x98,
        '™' => 0x99,
        'š' => 0x9A,
        '›' => 0x9B,
        'œ' => 0x9C,
        'ž' => 0x9E,
        'Ÿ' => 0x9F,
        _ => b'?',
    }
}

/// Encodes a string as WinAnsi bytes.
fn encode(s: &str) -> Vec<u8> {
    s.chars().map(win_ansi).collect()
}

/// Cuts `text` so that it plus a trailing "…" fits in `max_w`.
fn with_ellipsis(text: &[u8], font: Font, size: f32, max_w: f32) -> Vec<u8> {
    let budget = max_w - font.width(&[ELLIPSIS], size);
    if budget < 0.0 {
        return Vec::new();
    }
    let mut out = Vec::new();
    let mut w = 0.0;
    for &b in text {
        let cw = font.width(&[b], size);
        if w + cw > budget {
            break;
        }
        w += cw;
        out.push(b);
    }
    while out.last() == Some(&b' ') {
        out.pop();
    }
    out.push(ELLIPSIS);
    out
}

/// Returns `text` unchanged when it fits in `max_w`, else elided with "…".
fn fit(text: &[u8], font: Font, size: f32, max_w: f32) -> Vec<u8> {
    if font.width(text, size) <= max_w {
        text.to_vec()
    } else {
        with_ellipsis(text, font, size, max_w)
    }
}

/// Word-wraps `text` to `max_w`, breaking words that are too long on their
/// own. At most `max_lines` lines are returned; when text was cut the last
/// line ends with "…". Always returns at least one (possibly empty) line.
fn wrap(text: &[u8], font: Font, size: f32, max_w: f32, max_lines: usize) -> Vec<Vec<u8>> {
    let max_lines = max_lines.max(1);
    let space = font.width(b" ", size);
    let mut lines: Vec<Vec<u8>> = Vec::new();
    let mut line: Vec<u8> = Vec::new();
    let mut line_w = 0.0;
    let mut cut = false;

    'words: for word in text.split(|&b| b == b' ').filter(|w| !w.is_empty()) {
        let word_w = font.width(word, size);
        let sep = if line.is_empty() { 0.0 } else { space };
        if line_w + sep + word_w <= max_w {
            if !line.is_empty() {
                line.push(b' ');
            }
            line.extend_from_slice(word);
            line_w += sep + word_w;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
            line_w = 0.0;
            if lines.len() >= max_lines {
                cut = true;
                break 'words;
            }
        }
        if word_w <= max_w {
            line.extend_from_slice(word);
            line_w = word_w;
            continue;
        }
        for &b in word {
            let cw = font.width(&[b], size);
            if line_w + cw > max_w && !line.is_empty() {
                lines.push(std::mem::take(&mut line));
                line_w = 0.0;
                if lines.len() >= max_lines {
                    cut = true;
                    break 'words;
                }
            }
            line.push(b);
            line_w += cw;
        }
    }
    if !line.is_empty() {
        if lines.len() >= max_lines {
            cut = true;
        } else {
            lines.push(line);
        }
    }
    if cut && let Some(last) = lines.last_mut() {
        *last = with_ellipsis(last, font, size, max_w);
    }
    if lines.is_empty() {
        lines.push(Vec::new());
    }
    lines
}

// ---------------------------------------------------------------------------
// Drawing primitives on a content stream
// ---------------------------------------------------------------------------

fn draw_text(c: &mut Content, x: f32, y: f32, font: Font, size: f32, text: &[u8]) {
    if text.is_empty() {
        return;
    }
    c.begin_text();
    c.set_font(font.resource(), size);
    c.next_line(x, y);
    c.show(Str(text));
    c.end_text();
}

fn draw_text_right(c: &mut Content, right: f32, y: f32, font: Font, size: f32, text: &[u8]) {
    let x = right - font.width(text, size);
    draw_text(c, x, y, font, size, text);
}

fn draw_rule(c: &mut Content, x1: f32, x2: f32, y: f32, width: f32, gray: f32) {
    c.save_state();
    c.set_stroke_gray(gray);
    c.set_line_width(width);
    c.move_to(x1, y);
    c.line_to(x2, y);
    c.stroke();
    c.restore_state();
}

fn fill_band(c: &mut Content, x: f32, y: f32, w: f32, h: f32, gray: f32) {
    c.save_state();
    c.set_fill_gray(gray);
    c.rect(x, y, w, h);
    c.fill_nonzero();
    c.restore_state();
}

// ---------------------------------------------------------------------------
// Tables
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy)]
struct Col {
    /// Left edge.
    x: f32,
    /// Width; right-aligned cells end at `x + w`.
    w: f32,
    right: bool,
    wrap: bool,
}

impl Col {
    fn left(x: f32, w: f32) -> Col {
        Col {
            x,
            w,
            right: false,
            wrap: false,
        }
    }
    fn wrapped(x: f32, w: f32) -> Col {
        Col {
            x,
            w,
            right: false,
            wrap: true,
        }
    }
    fn right(x: f32, w: f32) -> Col {
        Col {
            x,
            w,
            right: true,
            wrap: false,
        }
    }
}

#[derive(Debug, Clone)]
struct Table {
    cols: Vec<Col>,
    heads: Vec<Vec<u8>>,
}

impl Table {
    fn new(cols: Vec<Col>, heads: &[&str]) -> Table {
        Table {
            cols,
            heads: heads.iter().map(|h| encode(h)).collect(),
        }
    }
}

// ---------------------------------------------------------------------------
// Flowing document
// ---------------------------------------------------------------------------

struct Page {
    content: Content,
    has_image: bool,
}

impl Page {
    fn new() -> Page {
        Page {
            content: Content::new(),
            has_image: false,
        }
    }
}

/// A grayscale image ready to be written as an XObject.
struct Image {
    data: Vec<u8>,
    width: i32,
    height: i32,
}

/// Builds pages top to bottom, breaking to a new page when needed.
struct Doc {
    done: Vec<Page>,
    cur: Page,
    /// Top of the next thing to draw.
    y: f32,
    /// Small title at the top of every page after the first.
    running_title: Vec<u8>,
    /// Header of the table being drawn, repeated after a page break.
    table: Option<Table>,
}

impl Doc {
    fn new(running_title: &str) -> Doc {
        Doc {
            done: Vec::new(),
            cur: Page::new(),
            y: TOP,
            running_title: encode(running_title),
            table: None,
        }
    }

    fn c(&mut self) -> &mut Content {
        &mut self.cur.content
    }

    fn new_page(&mut self) {
        let old = std::mem::replace(&mut self.cur, Page::new());
        self.done.push(old);
        self.y = TOP;
        let title = fit(&self.running_title, Font::Regular, SMALL, RIGHT - LEFT);
        let c = &mut self.cur.content;
        c.set_fill_gray(LABEL_GRAY);
        draw_text(c, LEFT, TOP - SMALL, Font::Regular, SMALL, &title);
        c.set_fill_gray(0.0);
        self.y = TOP - 22.0;
        if let Some(table) = self.table.take() {
            self.draw_table_header(&table);
            self.table = Some(table);
        }
    }

    /// Starts a new page unless `h` points of content still fit.
    fn ensure(&mut self, h: f32) {
        if self.y - h < BOTTOM {
            self.new_page();
        }
    }

    fn gap(&mut self, h: f32) {
        self.y -= h;
    }

    /// One line of text at the cursor, with `leading` points of height.
    fn line(&mut self, x: f32, font: Font, size: f32, text: &[u8], leading: f32) {
        self.ensure(leading);
        let y = self.y - size;
        draw_text(self.c(), x, y, font, size, text);
        self.y -= leading;
    }

    /// A wrapped paragraph at the cursor.
    fn paragraph(&mut self, x: f32, w: f32, font: Font, size: f32, text: &str, max_lines: usize) {
        let leading = size * 1.3;
        for l in wrap(&encode(text), font, size, w, max_lines) {
            self.line(x, font, size, &l, leading);
        }
    }

    /// A section heading, kept on the same page as `keep` points after it.
    fn heading(&mut self, text: &str, keep: f32) {
        self.ensure(24.0 + keep);
        self.gap(8.0);
        let t = fit(&encode(text), Font::Bold, 12.0, RIGHT - LEFT);
        self.line(LEFT, Font::Bold, 12.0, &t, 18.0);
    }

    fn draw_table_header(&mut self, table: &Table) {
        let top = self.y;
        let c = &mut self.cur.content;
        fill_band(c, LEFT, top - HEADER_H, RIGHT - LEFT, HEADER_H, BAND_GRAY);
        for (col, head) in table.cols.iter().zip(&table.heads) {
            let t = fit(head, Font::Bold, SMALL + 0.5, col.w);
            let y = top - 12.5;
            if col.right {
                draw_text_right(c, col.x + col.w, y, Font::Bold, SMALL + 0.5, &t);
            } else {
                draw_text(c, col.x, y, Font::Bold, SMALL + 0.5, &t);
            }
        }
        self.y = top - HEADER_H - 3.0;
    }

    /// Starts a table: draws its header (on a new page if not even one row
    /// would fit under it) and remembers it for page breaks.
    fn begin_table(&mut self, table: Table) {
        self.ensure(HEADER_H + 3.0 + ROW_LEADING + ROW_PAD);
        self.draw_table_header(&table);
        self.table = Some(table);
    }

    fn end_table(&mut self) {
        self.table = None;
    }

    /// One table row; wrapped cells may make it several lines tall.
    fn row(&mut self, cells: &[&str], font: Font) {
        let Some(table) = self.table.take() else {
            return;
        };
        let mut cell_lines: Vec<Vec<Vec<u8>>> = Vec::with_capacity(table.cols.len());
        for (col, cell) in table.cols.iter().zip(cells) {
            let enc = encode(cell);
            if col.wrap {
                cell_lines.push(wrap(&enc, font, BODY, col.w, MAX_CELL_LINES));
            } else {
                cell_lines.push(vec![fit(&enc, font, BODY, col.w)]);
            }
        }
        let n = cell_lines.iter().map(Vec::len).max().unwrap_or(1).max(1);
        let h = n as f32 * ROW_LEADING + ROW_PAD;
        self.table = Some(table);
        self.ensure(h);
        let Some(table) = self.table.take() else {
            return;
        };
        let top = self.y;
        let c = &mut self.cur.content;
        for (col, lines) in table.cols.iter().zip(&cell_lines) {
            for (i, l) in lines.iter().enumerate() {
                let y = top - BODY - i as f32 * ROW_LEADING;
                if col.right {
                    draw_text_right(c, col.x + col.w, y, font, BODY, l);
                } else {
                    draw_text(c, col.x, y, font, BODY, l);
                }
            }
        }
        draw_rule(c, LEFT, RIGHT, top - h + 1.5, 0.5, RULE_GRAY);
        self.y = top - h;
        self.table = Some(table);
    }

    /// Draws up to [`MAX_TABLE_ROWS`] rows, then a note about the rest.
    fn rows<'a, I>(&mut self, rows: I, total: usize)
    where
        I: IntoIterator<Item = Vec<&'a str>>,
    {
        for r in rows.into_iter().take(MAX_TABLE_ROWS) {
            self.row(&r, Font::Regular);
        }
        if total > MAX_TABLE_ROWS {
            let note = format!("… and {} more rows not shown", total - MAX_TABLE_ROWS);
            let note = fit(&encode(&note), Font::Regular, BODY, RIGHT - LEFT);
            self.line(LEFT, Font::Regular, BODY, &note, ROW_LEADING + ROW_PAD);
        }
    }

    /// A right-aligned "label  value" summary row (subtotal, total, …).
    fn summary_row(&mut self, label: &str, value: &str, font: Font, size: f32) {
        let leading = size + 6.0;
        self.ensure(leading);
        let y = self.y - size - 2.0;
        let label = fit(&encode(label), font, size, 180.0);
        let value = fit(&encode(value), font, size, 100.0);
        let c = self.c();
        draw_text_right(c, RIGHT - 110.0, y, font, size, &label);
        draw_text_right(c, RIGHT, y, font, size, &value);
        self.y -= leading;
    }

    /// Adds "Page n of m" footers and writes the finished PDF.
    fn finish(self, title: &str, footer_left: &str, image: Option<&Image>) -> Vec<u8> {
        let mut pages = self.done;
        pages.push(self.cur);
        let total = pages.len();

        let id = |n: usize| Ref::new(i32::try_from(n).unwrap_or(i32::MAX).max(1));
        let catalog_id = id(1);
        let tree_id = id(2);
        let regular_id = id(3);
        let bold_id = id(4);
        let image_id = id(5);
        let info_id = id(6);
        let page_id = |i: usize| id(i.saturating_mul(2).saturating_add(7));
        let content_id = |i: usize| id(i.saturating_mul(2).saturating_add(8));

        let mut pdf = Pdf::new();
        pdf.catalog(catalog_id).pages(tree_id);
        pdf.pages(tree_id)
            .kids((0..total).map(page_id))
            .count(i32::try_from(total).unwrap_or(i32::MAX));
        pdf.type1_font(regular_id)
            .base_font(Name(b"Helvetica"))
            .encoding_predefined(Name(b"WinAnsiEncoding"));
        pdf.type1_font(bold_id)
            .base_font(Name(b"Helvetica-Bold"))
            .encoding_predefined(Name(b"WinAnsiEncoding"));

        let footer_left = fit(&encode(footer_left), Font::Regular, SMALL, 300.0);
        for (i, mut page) in pages.into_iter().enumerate() {
            let c = &mut page.content;
            draw_rule(c, LEFT, RIGHT, FOOTER_Y + 12.0, 0.5, RULE_GRAY);
            c.set_fill_gray(LABEL_GRAY);
            draw_text(c, LEFT, FOOTER_Y, Font::Regular, SMALL, &footer_left);
            let n = encode(&format!("Page {} of {}", i + 1, total));
            draw_text_right(c, RIGHT, FOOTER_Y, Font::Regular, SMALL, &n);
            c.set_fill_gray(0.0);

            let data = compress(&page.content.finish());
            pdf.stream(content_id(i), &data).filter(Filter::FlateDecode);

            let mut p = pdf.page(page_id(i));
            p.parent(tree_id)
                .media_box(Rect::new(0.0, 0.0, PAGE_W, PAGE_H))
                .contents(content_id(i));
            let mut res = p.resources();
            res.fonts()
                .pair(Font::Regular.resource(), regular_id)
                .pair(Font::Bold.resource(), bold_id);
            if page.has_image && image.is_some() {
                res.x_objects().pair(IMAGE_NAME, image_id);
            }
        }

        if let Some(img) = image {
            let mut x = pdf.image_xobject(image_id, &img.data);
            x.filter(Filter::FlateDecode);
            x.width(img.width);
            x.height(img.height);
            x.color_space().device_gray();
            x.bits_per_component(8);
        }

        pdf.document_info(info_id)
            .title(TextStr(title))
            .producer(TextStr("Fieldsync"));
        pdf.finish()
    }
}

// ---------------------------------------------------------------------------
// Shared blocks
// ---------------------------------------------------------------------------

/// Draws the company block at the top left; returns the y below it.
fn company_block(doc: &mut Doc, company: &Company) -> f32 {
    let w = 290.0;
    let mut y = TOP;
    let c = doc.c();
    for l in wrap(&encode(&company.name), Font::Bold, 20.0, w, 2) {
        draw_text(c, LEFT, y - 18.0, Font::Bold, 20.0, &l);
        y -= 24.0;
    }
    y -= 2.0;
    let mut info: Vec<&str> = company
        .address_lines
        .iter()
        .take(5)
        .map(String::as_str)
        .collect();
    let phone = format!("Phone: {}", company.phone);
    if !company.phone.trim().is_empty() {
        info.push(&phone);
    }
    c.set_fill_gray(0.2);
    for l in info {
        let t = fit(&encode(l), Font::Regular, 9.0, w);
        draw_text(c, LEFT, y - 9.0, Font::Regular, 9.0, &t);
        y -= 12.0;
    }
    c.set_fill_gray(0.0);
    y
}

/// Draws the big document title and label/value pairs at the top right;
/// returns the y below them.
fn meta_block(doc: &mut Doc, title: &str, rows: &[(&str, &str, Font)]) -> f32 {
    let c = doc.c();
    let mut y = TOP;
    draw_text_right(c, RIGHT, y - 20.0, Font::Bold, 22.0, &encode(title));
    y -= 34.0;
    let label_x = 360.0;
    let value_left = 425.0;
    for (label, value, font) in rows {
        c.set_fill_gray(LABEL_GRAY);
        let l = fit(
            &encode(label),
            Font::Regular,
            9.0,
            value_left - label_x - 4.0,
        );
        draw_text(c, label_x, y - 10.0, Font::Regular, 9.0, &l);
        c.set_fill_gray(0.0);
        let v = fit(&encode(value), *font, BODY, RIGHT - value_left);
        draw_text_right(c, RIGHT, y - 10.0, *font, BODY, &v);
        y -= 14.0;
    }
    y
}

/// Draws a labelled address block at (x, y) with width w; returns the y below.
fn party_block(doc: &mut Doc, x: f32, y: f32, w: f32, label: &str, party: &Party) -> f32 {
    let c = doc.c();
    let mut y = y;
    c.set_fill_gray(LABEL_GRAY);
    draw_text(
        c,
        x,
        y - SMALL,
        Font::Bold,
        SMALL,
        &fit(&encode(label), Font::Bold, SMALL, w),
    );
    c.set_fill_gray(0.0);
    y -= 14.0;
    let name = fit(&encode(&party.name), Font::Bold, 11.0, w);
    draw_text(c, x, y - 11.0, Font::Bold, 11.0, &name);
    y -= 14.0;
    for l in party.lines.iter().take(6) {
        let t = fit(&encode(l), Font::Regular, BODY, w);
        draw_text(c, x, y - BODY, Font::Regular, BODY, &t);
        y -= 12.5;
    }
    y
}

/// Checks a signature's buffer and compresses it; `None` when unusable.
fn prepare_signature(sig: &Signature) -> Option<Image> {
    let w = usize::try_from(sig.width).ok()?;
    let h = usize::try_from(sig.height).ok()?;
    let pixels = w.checked_mul(h)?;
    if pixels == 0 || pixels > SIG_MAX_PIXELS || pixels != sig.gray.len() {
        return None;
    }
    Some(Image {
        data: compress(&sig.gray),
        width: i32::try_from(sig.width).ok()?,
        height: i32::try_from(sig.height).ok()?,
    })
}

// ---------------------------------------------------------------------------
// Invoice
// ---------------------------------------------------------------------------

/// Renders an invoice as a PDF document.
///
/// Never panics: long text is wrapped or elided, long tables continue on
/// further pages with their header repeated, and an unusable signature image
/// is left out.
pub fn invoice_pdf(sheet: &InvoiceSheet) -> Vec<u8> {
    let running = format!(
        "{} – Invoice {} (continued)",
        sheet.company.name, sheet.number
    );
    let mut doc = Doc::new(&running);

    // Header: company on the left, invoice facts on the right.
    let left_y = company_block(&mut doc, &sheet.company);
    let meta = [
        ("Invoice #", sheet.number.as_str(), Font::Bold),
        ("Date", sheet.date.as_str(), Font::Regular),
        ("Due", sheet.due.as_str(), Font::Regular),
        ("Status", sheet.status.as_str(), Font::Bold),
    ];
    let right_y = meta_block(&mut doc, "INVOICE", &meta);
    doc.y = left_y.min(right_y) - 10.0;

    if let Some(reason) = &sheet.void_reason {
        doc.c().set_fill_rgb(0.75, 0.05, 0.05);
        doc.line(LEFT, Font::Bold, 36.0, b"VOID", 40.0);
        let text = format!("Reason: {reason}");
        doc.paragraph(LEFT, RIGHT - LEFT, Font::Regular, BODY, &text, 4);
        doc.c().set_fill_gray(0.0);
        doc.gap(6.0);
    }

    // Customer and service address, side by side.
    doc.gap(6.0);
    let top = doc.y;
    let bill_y = party_block(&mut doc, LEFT, top, 240.0, "BILL TO", &sheet.customer);
    let site_y = match &sheet.site {
        Some(site) => party_block(&mut doc, 312.0, top, RIGHT - 312.0, "SERVICE ADDRESS", site),
        None => top,
    };
    doc.y = bill_y.min(site_y) - 10.0;

    if !sheet.job.trim().is_empty() {
        doc.ensure(14.0);
        let y = doc.y - BODY;
        draw_text(doc.c(), LEFT, y, Font::Bold, BODY, b"Job:");
        doc.paragraph(
            LEFT + 26.0,
            RIGHT - LEFT - 26.0,
            Font::Regular,
            BODY,
            &sheet.job,
            6,
        );
    }
    doc.gap(8.0);

    // Line items.
    doc.begin_table(Table::new(
        vec![
            Col::wrapped(LEFT, 250.0),
            Col::right(306.0, 60.0),
            Col::right(372.0, 90.0),
            Col::right(468.0, RIGHT - 468.0),
        ],
        &["Description", "Qty", "Unit price", "Amount"],
    ));
    if sheet.lines.is_empty() {
        doc.row(&["No line items."], Font::Regular);
    }
    doc.rows(
        sheet.lines.iter().map(|l| {
            vec![
                l.description.as_str(),
                l.quantity.as_str(),
                l.unit_price.as_str(),
                l.amount.as_str(),
            ]
        }),
        sheet.lines.len(),
    );
    doc.end_table();

    // Totals.
    doc.gap(6.0);
    doc.ensure(3.0 * 16.0 + 4.0);
    doc.summary_row("Subtotal", &sheet.subtotal, Font::Regular, BODY);
    doc.summary_row(&sheet.tax_label, &sheet.tax, Font::Regular, BODY);
    doc.summary_row("Total", &sheet.total, Font::Bold, 12.0);

    // Payments.
    doc.heading("Payments", HEADER_H + ROW_LEADING + ROW_PAD + 3.0);
    if sheet.payments.is_empty() {
        doc.line(LEFT, Font::Regular, BODY, b"No payments recorded.", 16.0);
    } else {
        doc.begin_table(Table::new(
            vec![
                Col::left(LEFT, 90.0),
                Col::left(145.0, 110.0),
                Col::left(260.0, 200.0),
                Col::right(468.0, RIGHT - 468.0),
            ],
            &["Date", "Method", "Reference", "Amount"],
        ));
        doc.rows(
            sheet.payments.iter().map(|p| {
                vec![
                    p.date.as_str(),
                    p.method.as_str(),
                    p.reference.as_str(),
                    p.amount.as_str(),
                ]
            }),
            sheet.payments.len(),
        );
        doc.end_table();
    }
    doc.gap(6.0);
    doc.ensure(2.0 * 18.0);
    doc.summary_row("Paid", &sheet.paid, Font::Bold, BODY);
    doc.summary_row("Balance due", &sheet.balance_due, Font::Bold, 12.0);

    // Signature.
    let image = sheet.signature.as_ref().and_then(prepare_signature);
    doc.gap(16.0);
    match &sheet.signature {
        Some(sig) => {
            doc.ensure(SIG_MAX_H + 30.0);
            if let Some(img) = &image {
                let (w, h) = (img.width as f32, img.height as f32);
                let scale = (SIG_MAX_W / w).min(SIG_MAX_H / h);
                let (dw, dh) = (w * scale, h * scale);
                let y = doc.y - dh;
                let c = doc.c();
                c.save_state();
                c.transform([dw, 0.0, 0.0, dh, LEFT, y]);
                c.x_object(IMAGE_NAME);
                c.restore_state();
                doc.cur.has_image = true;
                doc.y = y - 4.0;
            }
            draw_rule(&mut doc.cur.content, LEFT, LEFT + 250.0, doc.y, 0.75, 0.0);
            doc.gap(4.0);
            let text = format!("Signed by {}, {}", sig.signer, sig.signed_at);
            doc.paragraph(LEFT, RIGHT - LEFT, Font::Regular, 9.0, &text, 3);
        }
        None => {
            doc.ensure(50.0);
            doc.gap(30.0);
            draw_rule(&mut doc.cur.content, LEFT, LEFT + 250.0, doc.y, 0.75, 0.0);
            doc.gap(4.0);
            doc.line(LEFT, Font::Regular, 9.0, b"Customer signature", 12.0);
        }
    }

    let title = format!("Invoice {}", sheet.number);
    let footer = format!("{} – Invoice {}", sheet.company.name, sheet.number);
    doc.finish(&title, &footer, image.as_ref())
}

// ---------------------------------------------------------------------------
// Statement
// ---------------------------------------------------------------------------

/// Renders a customer statement as a PDF document.
///
/// Never panics: long text is wrapped or elided and long tables continue on
/// further pages with their header repeated.
pub fn statement_pdf(sheet: &StatementSheet) -> Vec<u8> {
    let running = format!(
        "{} – Statement for {} (continued)",
        sheet.company.name, sheet.customer.name
    );
    let mut doc = Doc::new(&running);

    let left_y = company_block(&mut doc, &sheet.company);
    let meta = [
        ("Issued", sheet.issued.as_str(), Font::Regular),
        ("Period", sheet.period.as_str(), Font::Regular),
        ("Balance", sheet.closing_balance.as_str(), Font::Bold),
    ];
    let right_y = meta_block(&mut doc, "STATEMENT", &meta);
    doc.y = left_y.min(right_y) - 16.0;

    let top = doc.y;
    doc.y = party_block(&mut doc, LEFT, top, 300.0, "STATEMENT FOR", &sheet.customer) - 10.0;

    // Account activity.
    doc.heading("Account activity", HEADER_H + 2.0 * (ROW_LEADING + ROW_PAD));
    doc.begin_table(Table::new(
        vec![
            Col::left(LEFT, 70.0),
            Col::wrapped(125.0, 190.0),
            Col::right(320.0, 75.0),
            Col::right(400.0, 78.0),
            Col::right(483.0, RIGHT - 483.0),
        ],
        &["Date", "Description", "Charges", "Payments", "Balance"],
    ));
    doc.row(
        &[
            "",
            "Opening balance",
            "",
            "",
            sheet.opening_balance.as_str(),
        ],
        Font::Bold,
    );
    doc.rows(
        sheet.lines.iter().map(|l| {
            vec![
                l.date.as_str(),
                l.description.as_str(),
                l.charge.as_str(),
                l.payment.as_str(),
                l.balance.as_str(),
            ]
        }),
        sheet.lines.len(),
    );
    doc.row(
        &[
            "",
            "Closing balance",
            "",
            "",
            sheet.closing_balance.as_str(),
        ],
        Font::Bold,
    );
    doc.end_table();

    // Open invoices.
    doc.heading("Open invoices", HEADER_H + ROW_LEADING + ROW_PAD + 3.0);
    if sheet.open_invoices.is_empty() {
        doc.line(LEFT, Font::Regular, BODY, b"No open invoices.", 16.0);
    } else {
        doc.begin_table(Table::new(
            vec![
                Col::left(LEFT, 170.0),
                Col::left(225.0, 100.0),
                Col::left(330.0, 100.0),
                Col::right(440.0, RIGHT - 440.0),
            ],
            &["Invoice", "Date", "Due", "Balance"],
        ));
        doc.rows(
            sheet
                .open_invoices
                .iter()
                .map(|(n, d, due, b)| vec![n.as_str(), d.as_str(), due.as_str(), b.as_str()]),
            sheet.open_invoices.len(),
        );
        doc.end_table();
    }

    // Aging summary: bucket labels as headers over one row of amounts,
    // at most six buckets per row.
    if !sheet.aging.is_empty() {
        doc.heading("Aging", HEADER_H + ROW_LEADING + ROW_PAD + 3.0);
        for chunk in sheet.aging.chunks(6).take(MAX_TABLE_ROWS) {
            let n = chunk.len() as f32;
            let slot = (RIGHT - LEFT) / n;
            let cols: Vec<Col> = (0..chunk.len())
                .map(|i| Col::right(LEFT + slot * i as f32 + 4.0, slot - 4.0))
                .collect();
            let heads: Vec<&str> = chunk.iter().map(|(label, _)| label.as_str()).collect();
            let amounts: Vec<&str> = chunk.iter().map(|(_, amount)| amount.as_str()).collect();
            doc.begin_table(Table::new(cols, &heads));
            doc.row(&amounts, Font::Bold);
            doc.end_table();
            doc.gap(6.0);
        }
    }

    let title = format!("Statement – {}", sheet.customer.name);
    let footer = format!(
        "{} – Statement for {}",
        sheet.company.name, sheet.customer.name
    );
    doc.finish(&title, &footer, None)
}

/// Flate (zlib) compression of a content stream or image, as PDF's FlateDecode reads it.
fn compress(data: &[u8]) -> Vec<u8> {
    miniz_oxide::deflate::compress_to_vec_zlib(data, 6)
}

#[cfg(test)]
mod tests {
    use super::*;
    use lopdf::{Document, Object};

    fn company() -> Company {
        Company {
            name: "Acme Plumbing & Heating".into(),
            address_lines: vec!["12 Main Street".into(), "Springfield, IL 62701".into()],
            phone: "(555) 010-2000".into(),
            ..Company::default()
        }
    }

    fn invoice(lines: usize) -> InvoiceSheet {
        InvoiceSheet {
            company: company(),
            number: "INV-1042".into(),
            date: "Mar 3, 2025".into(),
            due: "Apr 2, 2025".into(),
            status: "Partially paid".into(),
            customer: Party {
                name: "Jordan Rivera".into(),
                lines: vec!["88 Oak Lane".into(), "Springfield, IL 62704".into()],
            },
            site: Some(Party {
                name: "Rivera Rental Unit".into(),
                lines: vec!["90 Oak Lane, Apt 2".into()],
            }),
            job: "Replace water heater and inspect supply lines".into(),
            lines: (1..=lines)
                .map(|i| SheetLine {
                    description: format!("Item number {i} service"),
                    quantity: format!("{i}"),
                    unit_price: "$45.00".into(),
                    amount: format!("${}.00", 45 * i),
                })
                .collect(),
            subtotal: "$1,234.00".into(),
            tax_label: "Tax 8.25%".into(),
            tax: "$101.81".into(),
            total: "$1,335.81".into(),
            payments: vec![PaymentLine {
                date: "Mar 4, 2025".into(),
                method: "Card".into(),
                reference: "ch_3PqX".into(),
                amount: "$500.00".into(),
            }],
            paid: "$500.00".into(),
            balance_due: "$835.81".into(),
            signature: None,
            void_reason: None,
        }
    }

    fn statement(lines: usize) -> StatementSheet {
        StatementSheet {
            company: company(),
            customer: Party {
                name: "Jordan Rivera".into(),
                lines: vec!["88 Oak Lane".into()],
            },
            period: "Mar 1 – Mar 31, 2025".into(),
            issued: "Apr 1, 2025".into(),
            opening_balance: "$100.00".into(),
            lines: (1..=lines)
                .map(|i| StatementLine {
                    date: format!("Mar {i}"),
                    description: format!("Invoice INV-{i}"),
                    charge: "$10.00".into(),
                    payment: String::new(),
                    balance: format!("${}.00", 100 + 10 * i),
                })
                .collect(),
            closing_balance: "$4,321.09".into(),
            open_invoices: vec![(
                "INV-1042".into(),
                "Mar 3, 2025".into(),
                "Apr 2, 2025".into(),
                "$835.81".into(),
            )],
            aging: vec![
                ("Current".into(), "$835.81".into()),
                ("1–30 days".into(), "$0.00".into()),
                ("31–60 days".into(), "$0.00".into()),
                ("61–90 days".into(), "$0.00".into()),
                ("90+ days".into(), "$0.00".into()),
            ],
        }
    }

    fn load(bytes: &[u8]) -> Document {
        Document::load_mem(bytes).expect("PDF parses")
    }

    fn all_text(doc: &Document) -> String {
        let pages: Vec<u32> = doc.get_pages().keys().copied().collect();
        doc.extract_text(&pages).expect("text extracts")
    }

    fn images(doc: &Document) -> Vec<&lopdf::Stream> {
        doc.objects
            .values()
            .filter_map(|o| match o {
                Object::Stream(s) => Some(s),
                _ => None,
            })
            .filter(|s| s.dict.get(b"Subtype").and_then(Object::as_name).ok() == Some(b"Image"))
            .collect()
    }

    #[test]
    fn invoice_parses_and_has_key_text() {
        let doc = load(&invoice_pdf(&invoice(3)));
        assert_eq!(doc.get_pages().len(), 1);
        let text = all_text(&doc);
        for needle in [
            "INV-1042",
            "$1,335.81",
            "Jordan Rivera",
            "Balance due",
            "$835.81",
            "Tax 8.25%",
            "Customer signature",
            "Page 1 of 1",
            "Acme Plumbing & Heating",
            "Rivera Rental Unit",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in {text}");
        }
    }

    #[test]
    fn long_invoice_flows_onto_pages_with_repeated_header() {
        let doc = load(&invoice_pdf(&invoice(120)));
        let pages = doc.get_pages();
        assert!(
            pages.len() > 1,
            "expected several pages, got {}",
            pages.len()
        );
        let text = all_text(&doc);
        for i in 1..=120 {
            let needle = format!("Item number {i} service");
            assert!(text.contains(&needle), "missing {needle}");
        }
        for (n, id) in pages.keys().zip(pages.values()) {
            let page_text = doc.extract_text(&[*n]).expect("page text");
            assert!(
                page_text.contains(&format!("Page {n} of {}", pages.len())),
                "footer on page {n} ({id:?})"
            );
        }
        // The line-item header is repeated on every page that continues the table.
        let table_pages = (1..=pages.len() as u32)
            .filter(|n| {
                let t = doc.extract_text(&[*n]).unwrap_or_default();
                t.contains("Item number")
            })
            .count();
        assert_eq!(text.matches("Unit price").count(), table_pages);
    }

    #[test]
    fn non_latin_text_does_not_panic() {
        let mut sheet = invoice(2);
        sheet.customer.name = "Zoë Ωmega 日本".into();
        sheet.lines[0].description = "Café – “quoted” • 50€ … 東京".into();
        let doc = load(&invoice_pdf(&sheet));
        let text = all_text(&doc);
        assert!(text.contains("Zoë ?mega ??"), "{text}");
        assert!(text.contains("Café – “quoted” • 50€ … ??"), "{text}");
    }

    #[test]
    fn signature_is_embedded_as_image() {
        let (w, h) = (300u32, 100u32);
        let gray: Vec<u8> = (0..w * h)
            .map(|i| if (i % w) / 7 == (i / w) / 3 { 0 } else { 255 })
            .collect();
        let mut sheet = invoice(2);
        sheet.signature = Some(Signature {
            signer: "Jordan Rivera".into(),
            signed_at: "Mar 3, 2025 4:12 PM".into(),
            width: w,
            height: h,
            gray: gray.clone(),
        });
        let bytes = invoice_pdf(&sheet);
        let doc = load(&bytes);
        let imgs = images(&doc);
        assert_eq!(imgs.len(), 1);
        let img = imgs[0];
        assert_eq!(
            img.dict.get(b"Width").and_then(Object::as_i64).ok(),
            Some(300)
        );
        assert_eq!(
            img.dict.get(b"ColorSpace").and_then(Object::as_name).ok(),
            Some(&b"DeviceGray"[..])
        );
        assert_eq!(img.decompressed_content().expect("inflates"), gray);
        assert!(img.content.len() < gray.len() / 4, "image is compressed");
        let text = all_text(&doc);
        assert!(
            text.contains("Signed by Jordan Rivera, Mar 3, 2025 4:12 PM"),
            "{text}"
        );
    }

    #[test]
    fn wrong_size_signature_is_skipped() {
        let mut sheet = invoice(2);
        for (w, h, len) in [
            (300, 100, 10),
            (0, 0, 0),
            (u32::MAX, u32::MAX, 3),
            (10, 10, 101),
        ] {
            sheet.signature = Some(Signature {
                signer: "Jordan Rivera".into(),
                signed_at: "today".into(),
                width: w,
                height: h,
                gray: vec![128; len],
            });
            let doc = load(&invoice_pdf(&sheet));
            assert!(images(&doc).is_empty());
            assert!(all_text(&doc).contains("Signed by Jordan Rivera, today"));
        }
    }

    #[test]
    fn void_invoice_shows_reason() {
        let mut sheet = invoice(1);
        sheet.void_reason = Some("Duplicate of INV-1041".into());
        let text = all_text(&load(&invoice_pdf(&sheet)));
        assert!(text.contains("VOID"));
        assert!(text.contains("Reason: Duplicate of INV-1041"));
    }

    #[test]
    fn hostile_input_does_not_panic() {
        let huge = "x".repeat(200_000);
        let words = "word ".repeat(50_000);
        let mut sheet = invoice(0);
        sheet.company.name = huge.clone();
        sheet.company.address_lines = vec![huge.clone(); 50];
        sheet.customer = Party {
            name: words.clone(),
            lines: vec![words.clone(); 50],
        };
        sheet.site = Some(Party::default());
        sheet.job = words.clone();
        sheet.number = "(unbalanced \\ paren".into();
        sheet.lines = vec![
            SheetLine {
                description: huge.clone(),
                quantity: huge.clone(),
                unit_price: "\u{0}\u{7}\u{7f}\t\n".into(),
                amount: String::new(),
            },
            SheetLine {
                description: words.clone(),
                ..SheetLine::default()
            },
        ];
        sheet.payments = vec![
            PaymentLine {
                reference: huge.clone(),
                ..PaymentLine::default()
            };
            300
        ];
        sheet.tax_label = huge.clone();
        sheet.void_reason = Some(words.clone());
        let doc = load(&invoice_pdf(&sheet));
        assert!(doc.get_pages().len() > 1);
        let _ = all_text(&doc);
        let doc = load(&invoice_pdf(&InvoiceSheet::default()));
        assert_eq!(doc.get_pages().len(), 1);
        let doc = load(&statement_pdf(&StatementSheet::default()));
        assert_eq!(doc.get_pages().len(), 1);
    }

    #[test]
    fn table_rows_are_capped() {
        let mut sheet = invoice(0);
        sheet.lines = vec![
            SheetLine {
                description: "x".into(),
                ..SheetLine::default()
            };
            MAX_TABLE_ROWS + 7
        ];
        let doc = load(&invoice_pdf(&sheet));
        assert!(all_text(&doc).contains("… and 7 more rows not shown"));
    }

    #[test]
    fn statement_parses_and_has_closing_balance() {
        let doc = load(&statement_pdf(&statement(4)));
        let text = all_text(&doc);
        for needle in [
            "STATEMENT",
            "$4,321.09",
            "Closing balance",
            "Opening balance",
            "Jordan Rivera",
            "Mar 1 – Mar 31, 2025",
            "INV-1042",
            "31–60 days",
            "Page 1 of 1",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in {text}");
        }
    }

    #[test]
    fn long_statement_flows() {
        let doc = load(&statement_pdf(&statement(150)));
        assert!(doc.get_pages().len() > 2);
        let text = all_text(&doc);
        assert!(text.contains("Invoice INV-150"));
        assert!(text.contains("$4,321.09"));
    }

    #[test]
    fn win_ansi_mapping() {
        assert_eq!(
            encode("A é ÿ € – — ‘ ’ “ ” • … ™"),
            b"A \xe9 \xff \x80 \x96 \x97 \x91 \x92 \x93 \x94 \x95 \x85 \x99"
        );
        assert_eq!(encode("Ω日\u{1F600}\u{1}"), b"????");
        assert_eq!(encode("a\tb\nc"), b"a b c");
    }

    #[test]
    fn metrics_and_alignment_helpers() {
        // "Hello": H=722 e=556 l=222 l=222 o=556 → 2278 units.
        assert!((Font::Regular.width(b"Hello", 10.0) - 22.78).abs() < 1e-3);
        assert!((Font::Bold.width(b"$1.00", 1000.0) - (556.0 * 4.0 + 278.0)).abs() < 1e-2);
        let cut = fit(b"a rather long description", Font::Regular, 10.0, 50.0);
        assert_eq!(cut.last(), Some(&ELLIPSIS));
        assert!(Font::Regular.width(&cut, 10.0) <= 50.0);
        let lines = wrap(
            &"word ".repeat(100).into_bytes(),
            Font::Regular,
            10.0,
            100.0,
            3,
        );
        assert_eq!(lines.len(), 3);
        assert!(lines.iter().all(|l| Font::Regular.width(l, 10.0) <= 100.0));
        assert_eq!(lines[2].last(), Some(&ELLIPSIS));
        assert_eq!(wrap(b"", Font::Bold, 10.0, 5.0, 3), vec![Vec::<u8>::new()]);
        assert_eq!(wrap(b"abc", Font::Bold, 10.0, 0.0, 5).len(), 3);
    }

    #[test]
    fn compressed_streams_inflate() {
        let mut data: Vec<u8> = Vec::new();
        let mut x: u32 = 12345;
        for i in 0..200_000u32 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
            data.push(if i % 1000 < 600 { 255 } else { (x >> 24) as u8 });
        }
        for sample in [
            &data[..],
            &[][..],
            &[7][..],
            &[1, 2][..],
            &[0; 70_000][..],
            b"abcabcabcabcabcXabc",
        ] {
            let dict = lopdf::dictionary! { "Filter" => "FlateDecode" };
            let stream = lopdf::Stream::new(dict, compress(sample));
            assert_eq!(stream.decompressed_content().expect("inflates"), sample);
        }
    }
}
