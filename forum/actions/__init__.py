"""Every state change: `check_*` validates and authorises, `do_*` writes and publishes in one transaction."""
