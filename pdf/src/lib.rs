//! Invoice and customer statement PDFs, made by the same code on the server (the office page's
//! "View PDF" and statements) and on the tablet (offline, from the invoice on the tablet).
//!
//! [`invoice`] and [`statement`] take records ([`fieldsync_protocol`]) and print them;
//! [`layout`] does the printing from sheets of text already formatted ([`InvoiceSheet`],
//! [`StatementSheet`]).

pub mod layout;
mod records;

pub use layout::{
    InvoiceSheet, Party, PaymentLine, SheetLine, Signature, StatementLine, StatementSheet,
    invoice_pdf, statement_pdf,
};
pub use records::{InvoiceDocument, StatementDocument, file_name, invoice, signature, statement};
