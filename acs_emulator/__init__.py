"""A local Azure Communication Services: Identity 2023-10-01 and Chat 2024-03-07 over HTTPS.

Run it with ``python -m acs_emulator``; see the README section "The ACS emulator".
"""
