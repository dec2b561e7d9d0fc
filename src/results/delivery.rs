//! How a live output (`prometheus`: remote write during the run) delivered what it sent:
//! requests delivered and not, samples dropped, the last failure. Kept in [`super::Results`]
//! beside the `collect:` sources' reports, so the summary and the results JSON say it.

/// One live output's sending, over the whole run (its final flush included).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Delivery {
    /// `prometheus`.
    pub kind: String,
    /// Where it sent, secrets redacted.
    pub url: String,
    /// Requests the receiver took (a 2xx answer).
    pub requests: u64,
    /// Requests not delivered: refused (a 4xx other than 429), still failing after their
    /// retries, pushed out of a full queue, or cut short by the final flush's deadline.
    pub failed: u64,
    /// Attempts made again after a connection error, a timeout, a 5xx or a 429.
    pub retries: u64,
    /// Samples in the requests not delivered (`output_dropped`).
    pub dropped: u64,
    /// Whether the last request, sent after the run, was delivered before its deadline.
    pub flushed: bool,
    /// The last failure (the receiver's status and a cleaned excerpt of its answer, or
    /// the connection's error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}
