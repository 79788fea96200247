"""Other APIs' requests in, the gateway's serving path behind them (issue 12)."""
