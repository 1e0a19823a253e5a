-- 0016: invoices are found by number: a new invoice whose number another invoice already has
-- is refused when it is pushed (store/src/checked.rs, `taken_invoice_number`), and the tablet
-- and office look invoices up by number. Not a UNIQUE index: databases from before numbers
-- were checked may hold duplicates, which must not stop the server from starting (nor fail a
-- whole group commit); uniqueness of new numbers is enforced where changes are checked.
CREATE INDEX invoices_number ON invoices (number);
