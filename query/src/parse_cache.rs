//! Parsed queries kept by their text. Dashboards and alert rules ask the
//! same instant queries again and again; parsing one (the lexer, the
//! parser, the type checks) took about a third of a native SLO question's
//! evaluation in the server. Only successful parses are kept; a full cache
//! starts over (the set a server sees repeatedly is small, and
//! bookkeeping for least-recent use would cost more than a reparse).

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;

use crate::syntax::{parse, Expr, ParseError};

/// Queries longer than this are parsed every time (and not held).
const MAX_QUERY_LEN: usize = 4096;

pub struct ParseCache {
    map: Mutex<HashMap<String, Arc<Expr>>>,
    capacity: usize,
}

impl ParseCache {
    /// Holds up to `capacity` queries (0: none).
    pub fn new(capacity: usize) -> ParseCache {
        ParseCache {
            map: Mutex::new(HashMap::new()),
            capacity,
        }
    }

    /// The query parsed, from the cache when it was parsed before.
    pub fn parse(&self, query: &str) -> Result<Arc<Expr>, ParseError> {
        if self.capacity == 0 || query.len() > MAX_QUERY_LEN {
            return parse(query).map(Arc::new);
        }
        if let Some(e) = self.map.lock().get(query) {
            return Ok(Arc::clone(e));
        }
        let expr = Arc::new(parse(query)?);
        let mut map = self.map.lock();
        if map.len() >= self.capacity {
            map.clear();
        }
        map.insert(query.to_owned(), Arc::clone(&expr));
        Ok(expr)
    }

    /// Queries held.
    pub fn len(&self) -> usize {
        self.map.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_queries_share_one_parse_and_errors_are_not_kept() {
        let c = ParseCache::new(2);
        let a = c.parse("sum(rate(x[5m]))").unwrap();
        let b = c.parse("sum(rate(x[5m]))").unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(
            a.to_string(),
            parse("sum(rate(x[5m]))").unwrap().to_string()
        );
        assert!(c.parse("sum(").is_err());
        assert_eq!(c.len(), 1);
        c.parse("y").unwrap();
        c.parse("z").unwrap();
        assert_eq!(c.len(), 1, "a full cache starts over");
        let none = ParseCache::new(0);
        none.parse("y").unwrap();
        assert!(none.is_empty());
    }
}
