"""Active learning: rounds of train -> score the unlabeled pool -> label the top-k -> retrain."""
