"""Sweeps: a grid of runs over methods, budgets and seeds (`grid`), and running its missing cells (`runner`)."""
