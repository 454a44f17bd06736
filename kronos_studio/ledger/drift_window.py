"""How many scored forecasts a drift test judges: light, so that a face can bound its option without loading
the tests themselves (scipy)."""

DRIFT_LAST = 30  # scored forecasts judged per series and model: the newest ones
MIN_SCORED = 20  # fewer: "too few scored forecasts" (a binomial test on fewer cannot see a 0.80 -> 0.60 fall)
