"""SQL, one module per resource: small async functions that take a connection."""
