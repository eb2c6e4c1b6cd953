"""folder: a user's own images/, masks/ and classes.txt."""
