"""The ensemble: several forecasters (members, each ``sample(history, future, settings)`` like any other),
combined as a meta-learner says (softmax of LightGBM's predicted scores, stacking or quantile averaging,
chosen on validation), which is only applied to the members it was trained with."""
