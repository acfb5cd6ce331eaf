"""Flow matching: schedules, the Euler/CFG sampler, the text-to-image pipeline, reflow."""
