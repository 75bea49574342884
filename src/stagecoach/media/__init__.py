"""What an uploaded file is (by its bytes) and the facts read cheaply from it."""
