use super::*;

#[test]
fn paths_map_onto_each_kind_of_base_url() {
    assert_eq!(upstream_path(ProviderKind::OpenAi, "/v1/chat/completions").unwrap(), "/chat/completions");
    assert_eq!(upstream_path(ProviderKind::OpenAi, "/v1/embeddings").unwrap(), "/embeddings");
    assert_eq!(upstream_path(ProviderKind::Anthropic, "/v1/messages").unwrap(), "/v1/messages");
    let gemini = "/v1beta/models/gemini-2.5-flash:generateContent";
    assert_eq!(upstream_path(ProviderKind::Gemini, gemini).unwrap(), gemini);
    for (kind, bad) in [
        (ProviderKind::OpenAi, "/chat/completions"),
        (ProviderKind::OpenAi, "/v1"),
        (ProviderKind::OpenAi, "/v1beta/x"),
        (ProviderKind::Anthropic, "/messages"),
        (ProviderKind::Gemini, "/models/x:generateContent"),
    ] {
        assert_eq!(upstream_path(kind, bad).unwrap_err().status(), StatusCode::NOT_FOUND, "{bad}");
    }
}

#[test]
fn dot_segments_never_leave_the_base_path() {
    for bad in ["/v1/../admin", "/v1/./x", "/v1/%2e%2E/x", "/v1/.%2e/x"] {
        assert_eq!(upstream_path(ProviderKind::OpenAi, bad).unwrap_err().status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    assert!(upstream_path(ProviderKind::OpenAi, "/v1/files/a.b").is_ok());
}

#[test]
fn the_gemini_query_key_is_not_forwarded() {
    let uri: Uri = "/google/v1beta/models/m:streamGenerateContent?alt=sse&key=lr_live_x".parse().unwrap();
    assert_eq!(query_without_key(&uri).as_deref(), Some("alt=sse"));
    let only_key: Uri = "/google/x?key=lr_live_x".parse().unwrap();
    assert_eq!(query_without_key(&only_key), None);
    let none: Uri = "/openai/v1/chat/completions".parse().unwrap();
    assert_eq!(query_without_key(&none), None);
}
