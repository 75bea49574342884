"""Pure rules: the status machine, errors, progress and estimates. No I/O here."""
