use super::*;

#[test]
fn query_words_also_find_the_verbs_apis_use() {
    let terms = query_terms("open an issue and send an email");
    let has = |t: &str, w: f32| terms.iter().any(|(x, y)| x == t && *y == w);
    assert!(
        has("open", 1.0) && has("create", SYNONYM_WEIGHT),
        "{terms:?}"
    );
    assert!(
        has("mail", SYNONYM_WEIGHT) && has("email", 1.0),
        "{terms:?}"
    );
    // A word the query says itself keeps its full weight.
    let terms = query_terms("add or create a label");
    assert_eq!(terms.iter().filter(|(t, _)| t == "create").count(), 1);
    assert!(terms.contains(&("create".to_string(), 1.0)), "{terms:?}");
    // Ranked: `open an issue` puts issues/create first, above the issue lists.
    let docs = [
        ("issues/list", "List issues", "/issues"),
        (
            "issues/create",
            "Create an issue in a repository",
            "/repos/{owner}/{repo}/issues",
        ),
    ];
    let index = Index::build(docs.iter().map(|(name, summary, path)| Doc {
        name,
        summary,
        description: "",
        tags: &[],
        method: "get",
        path,
    }));
    // (the shorter list would win without the synonym)
    assert_eq!(index.search("an issue", 5, |_| true)[0], 0);
    assert_eq!(index.search("open an issue", 5, |_| true)[0], 1);
}

#[test]
fn words_split_identifiers_and_fold_plurals() {
    let w: Vec<String> = words("listCalendarEvents /me/events/{event-id} send_mail").collect();
    assert_eq!(
        w,
        [
            "list", "calendar", "event", "me", "event", "event", "id", "send", "mail"
        ]
    );
    assert_eq!(
        words("issues boxes addresses").collect::<Vec<_>>(),
        ["issue", "box", "address"]
    );
}

#[test]
fn ranks_by_relevance_and_filters() {
    let tags = vec![];
    let docs = [
        ("sendMail", "Send an email", "/me/sendMail"),
        ("listEvents", "List calendar events", "/me/calendar/events"),
        (
            "createIssue",
            "Open an issue",
            "/repos/{owner}/{repo}/issues",
        ),
    ];
    let idx = Index::build(docs.iter().map(|(n, s, p)| Doc {
        name: n,
        summary: s,
        description: "",
        tags: &tags,
        method: "POST",
        path: p,
    }));
    assert_eq!(idx.search("send an email", 5, |_| true), [0]);
    assert_eq!(idx.search("my calendar events", 5, |_| true)[0], 1);
    assert_eq!(idx.search("open issue", 5, |_| true)[0], 2);
    assert!(idx.search("open issue", 5, |i| i != 2).is_empty());
}

#[test]
fn the_method_and_the_path_break_ties() {
    let tags = vec![];
    // (name, method, path): every one mentions users alike.
    let docs = [
        ("users_todo_ListLists", "GET", "/users/{id}/todo/lists"),
        ("users_CreateUser", "POST", "/users"),
        ("users_GetUser", "GET", "/users/{id}"),
        ("users_ListUser", "GET", "/users"),
        ("users_DeleteUser", "DELETE", "/users/{id}"),
        ("me_todo_ListLists", "GET", "/me/todo/lists"),
        ("me_ListEvents", "GET", "/me/events"),
        ("groups_ListEvents", "GET", "/groups/{id}/events"),
    ];
    let idx = Index::build(docs.iter().map(|(n, m, p)| Doc {
        name: n,
        summary: "",
        description: "",
        tags: &tags,
        method: m,
        path: p,
    }));
    let top = |q: &str| docs[idx.search(q, 1, |_| true)[0]].0;
    // "list": a GET of a collection, the shallowest.
    assert_eq!(top("list users"), "users_ListUser");
    assert_eq!(top("add a user"), "users_CreateUser");
    assert_eq!(top("remove a user"), "users_DeleteUser");
    // "my": the caller's own (`me`); "to do": `todo`.
    assert_eq!(top("list my events"), "me_ListEvents");
    assert_eq!(top("my to do lists"), "me_todo_ListLists");
}
