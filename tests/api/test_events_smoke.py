def test_factory_event_is_listed(client, make_event):
    event = make_event()
    body = client.get("/api/events").get_json()
    assert [e["id"] for e in body["items"]] == [event.id]
    item = body["items"][0]
    assert item["price_from"] == "1000.00" and item["tickets_available"] == 100
    assert item["organizer"]["name"]
