def test_healthz_names_the_brand_of_the_host(client_for):
    for slug in ("acme-clinic", "wellness-corp"):
        resp = client_for(slug).get("/healthz")
        assert resp.status_code == 200
        assert resp.json["brand"] == slug
