"""Identity: accounts, sign-in, permissions."""
