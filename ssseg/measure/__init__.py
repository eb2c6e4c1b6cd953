"""From masks to measurements: post-processing, defect instances, pass/fail rules, instance-level scores."""
