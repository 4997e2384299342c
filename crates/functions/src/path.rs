//! Function paths: `[dir/…/]module[.js][:function]`, canonicalised so that `messages:list`, `messages.js:list`
//! name the same function and a missing function name means `default`.

/// A validated, canonical function path: `dir/module:function` (no `.js`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FunctionPath {
    module: String,
    function: String,
}

impl FunctionPath {
    /// Parses any accepted form. Errors name the offending part.
    pub fn parse(path: &str) -> Result<Self, String> {
        let (module, function) = match path.rsplit_once(':') {
            Some((m, f)) => (m, f),
            None => (path, "default"),
        };
        let module = module.strip_suffix(".js").unwrap_or(module);
        if module.is_empty() {
            return Err(format!("invalid function path {path:?}: empty module"));
        }
        if module.starts_with('/') {
            return Err(format!("invalid function path {path:?}: paths are relative"));
        }
        for component in module.split('/') {
            let valid_chars = component.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
            let has_alnum = component.chars().any(|c| c.is_ascii_alphanumeric());
            if component.is_empty() || component.len() > 64 || !valid_chars || !has_alnum {
                return Err(format!(
                    "invalid function path {path:?}: path component {component:?} must be 1-64 characters of letters, digits, '_' and '.'"
                ));
            }
        }
        let first = function.chars().next();
        let valid_ident = first.is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && function.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && function.len() <= 64
            && !function.chars().all(|c| c == '_');
        if !valid_ident {
            return Err(format!("invalid function path {path:?}: {function:?} is not a valid function name"));
        }
        Ok(FunctionPath { module: module.to_string(), function: function.to_string() })
    }

    pub fn module(&self) -> &str {
        &self.module
    }

    pub fn function(&self) -> &str {
        &self.function
    }

    /// Whether the function is a system function (`_system/...`) that apps cannot shadow.
    pub fn is_system(&self) -> bool {
        self.module.starts_with("_system/") || self.module.starts_with("_deps/")
    }
}

impl std::fmt::Display for FunctionPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.module, self.function)
    }
}

#[cfg(test)]
mod tests {
    use super::FunctionPath;

    fn canon(p: &str) -> String {
        match FunctionPath::parse(p) {
            Ok(path) => path.to_string(),
            Err(e) => format!("error: {e}"),
        }
    }

    #[test]
    fn equivalent_forms_share_one_canonical_path() {
        assert_eq!(canon("messages:list"), "messages:list");
        assert_eq!(canon("messages.js:list"), "messages:list");
        assert_eq!(canon("messages"), "messages:default");
        assert_eq!(canon("messages.js"), "messages:default");
        assert_eq!(canon("messages:default"), "messages:default");
        assert_eq!(canon("dir/sub/mod.js:fn_1"), "dir/sub/mod:fn_1");
    }

    #[test]
    fn malformed_paths_are_rejected() {
        for bad in ["", ":list", "/abs:fn", "bad path!", "mod:1fn", "mod:___", "a//b:fn", "mod:fn-x", "../x:fn"] {
            assert!(canon(bad).starts_with("error"), "{bad:?} should be rejected, got {}", canon(bad));
        }
    }
}
