"""File blobs: uploads and results, stored under generated keys, never under client names."""
