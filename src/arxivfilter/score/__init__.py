"""Score stage: a judgement per (paper text, profile, model, prompt)."""
