print("tradesyncd")
