//! Choosing which public feeds `db update` downloads.

use crate::fetch::Feed;

/// A feed name that is none of the feeds.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("no such feed: {name}")]
pub struct UnknownFeed {
    /// The name as the user gave it.
    pub name: String,
    /// Every feed's name, to tell the user.
    pub known: Vec<String>,
}

/// The feeds named in `only` (all of them when `only` is empty), in `feeds`' order.
pub fn select(mut feeds: Vec<Feed>, only: &[String]) -> Result<Vec<Feed>, UnknownFeed> {
    if only.is_empty() {
        return Ok(feeds);
    }
    if let Some(unknown) = only.iter().find(|n| !feeds.iter().any(|f| &f.name == *n)) {
        return Err(UnknownFeed {
            name: unknown.clone(),
            known: feeds.iter().map(|f| f.name.clone()).collect(),
        });
    }
    feeds.retain(|f| only.contains(&f.name));
    Ok(feeds)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fetch::feeds;

    fn all() -> Vec<Feed> {
        feeds(
            "http://t.invalid/t.json",
            "http://o.invalid",
            "http://a.invalid",
        )
    }

    #[test]
    fn none_named_is_all() {
        assert_eq!(select(all(), &[]).unwrap().len(), all().len());
    }

    #[test]
    fn named_feeds_keep_their_order() {
        let names = ["osv:Go".to_string(), "debian-tracker".to_string()];
        let got: Vec<String> = select(all(), &names)
            .unwrap()
            .into_iter()
            .map(|f| f.name)
            .collect();
        assert_eq!(got, ["debian-tracker", "osv:Go"]);
    }

    #[test]
    fn an_unknown_name_lists_the_feeds() {
        let e = select(all(), &["osv:Cobol".to_string()]).unwrap_err();
        assert_eq!(e.name, "osv:Cobol");
        assert!(e.known.contains(&"debian-tracker".to_string()));
    }
}
