"""Training methods, one module each, found by name (`method=<name>`).

Each module `<name>.py` defines `METHOD = Method(...)`: the contract in
ssseg/methods/contract.py says what a method must provide (defaults, loss)
and what it may (unlabeled stream, pretraining, extra state, EMA updates,
head LR mask, models to evaluate, its own evaluation, parts for init_from).
Modules with a leading underscore are shared pieces (_pseudo, _teacher).
"""
