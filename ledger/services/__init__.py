"""Write paths of the ledger. Every balance change goes through posting.post_operations."""
