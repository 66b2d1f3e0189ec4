print("tradesync")
