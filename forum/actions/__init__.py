"""Every state change: `check_*` validates and authorises; `do_*` writes and publishes.

A `do_*` writes its change and the live event in one transaction.
"""
