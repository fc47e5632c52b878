"""A live discussion engine for special interest groups in health and care."""
