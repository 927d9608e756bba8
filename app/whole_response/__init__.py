"""The whole-response cache: a repeated view answered without running the query again,
never across principals whose disclosure differs (``app.whole_response.cache``)."""
