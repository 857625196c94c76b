UPDATE appointments SET notes = 'x' WHERE id = 7 OR changes() > 0 OR total_changes() > 0 OR last_insert_rowid() > 0 OR random() = 1 OR hex(randomblob(1)) = '00'
