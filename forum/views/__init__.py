"""HTML pages: thin handlers, one module per page family: parse, act or query, render."""
