"""Looking at one model's masks image by image: per-image records (`per_image`) and their figures (`plots`)."""
