"""The stand-in Missing Table world (app, cluster, helm) for the suite's own runs and selftests."""
