/// The software release, as `tradesync --version` and `tradesyncd --version` print it.
/// (It lives in this base module because both programs already depend on it.)
public enum Release {
    /// Semantic version of this build of TradeSync.
    public static let version = "0.8.0"
}
