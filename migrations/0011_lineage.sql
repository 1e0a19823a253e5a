-- Each change's lineage: a chain hash over every change stored up to it, in sequence order
-- (`Lineage::then`). A device names the lineage of its cursor at the handshake, so that a
-- server restored from an older copy, or replaced, sees that it does not have the history the
-- cursor came from. Filled for the changes already stored by the migration's hook.
ALTER TABLE changes ADD COLUMN lineage BLOB;
