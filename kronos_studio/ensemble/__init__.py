"""The ensemble: several forecasters (members) behind the walk-forward's forecast-function signature,
mixed by a LightGBM meta-learner trained on their past walk-forward scores."""
