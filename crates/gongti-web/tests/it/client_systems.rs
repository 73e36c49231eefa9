//! Client systems: OAuth 2.0 client credentials for a token, SMART system scopes that
//! narrow what the client's role may do, on FHIR only, every refusal audited.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine;
use gongti_app::clients::ClientForm;
use gongti_core::role::Role;
use serde_json::{Value, json};

use crate::support::{Reply, TestApp};

async fn token_request(t: &TestApp, basic: Option<(&str, &str)>, form: &str) -> Reply {
    let mut r = Request::post("/api/v1/auth/client-token")
        .header("content-type", "application/x-www-form-urlencoded");
    if let Some((id, secret)) = basic {
        let pair = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
        r = r.header("authorization", format!("Basic {pair}"));
    }
    t.send(r.body(Body::from(form.to_owned())).unwrap()).await
}

async fn send(t: &TestApp, method: &str, path: &str, token: &str, body: Option<&Value>) -> Reply {
    let r = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/fhir+json");
    let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
    t.send(r.body(body).unwrap()).await
}

#[tokio::test]
async fn a_client_system_gets_a_token_for_its_scopes_and_does_only_that() {
    for t in TestApp::all().await {
        let form = ClientForm {
            client_id: "lis-home".into(),
            name: "社区检验系统".into(),
            role: Role::ExamReader,
            institution_id: Some(t.home),
            scopes: "system/Patient.rs system/Observation.write".into(),
        };
        let (client, secret) = t.app.register_client(&form).await.unwrap();
        assert_eq!(
            client.scopes,
            "system/Patient.read system/Observation.write"
        );
        // The same id twice, a role no client may hold, a bad scope: refused.
        assert!(t.app.register_client(&form).await.is_err());
        for bad in [
            ClientForm {
                client_id: "x1".into(),
                role: Role::CityAdmin,
                institution_id: None,
                ..form.clone()
            },
            ClientForm {
                client_id: "x2".into(),
                scopes: "patient/*.read".into(),
                ..form.clone()
            },
            ClientForm {
                client_id: "x 3".into(),
                ..form.clone()
            },
        ] {
            assert!(t.app.register_client(&bad).await.is_err(), "{bad:?}");
        }

        // A client's account is no person of the registry.
        let doctor = t.token("doctor").await;
        let listed = t
            .get(
                "/api/v1/staff?name=%E7%A4%BE%E5%8C%BA%E6%A3%80%E9%AA%8C",
                &doctor,
            )
            .await;
        assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
        assert_eq!(listed.json()["items"], json!([]), "{}", listed.text);

        // The token endpoint.
        let r = token_request(
            &t,
            Some(("lis-home", &secret)),
            "grant_type=client_credentials",
        )
        .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let answer = r.json();
        assert_eq!(answer["token_type"], "bearer");
        assert_eq!(
            answer["scope"],
            "system/Patient.read system/Observation.write"
        );
        assert_eq!(answer["expires_in"], 3600);
        let token = answer["access_token"].as_str().unwrap().to_owned();
        let narrow = token_request(
            &t,
            None,
            &format!("grant_type=client_credentials&scope=system%2FPatient.read&client_id=lis-home&client_secret={secret}"),
        )
        .await;
        assert_eq!(narrow.status, StatusCode::OK, "{}", narrow.text);
        assert_eq!(narrow.json()["scope"], "system/Patient.read");
        let narrow = narrow.json()["access_token"].as_str().unwrap().to_owned();
        for (basic, form, status, error) in [
            (
                Some(("lis-home", "wrong")),
                "grant_type=client_credentials",
                StatusCode::UNAUTHORIZED,
                "invalid_client",
            ),
            (
                Some(("nobody", secret.as_str())),
                "grant_type=client_credentials",
                StatusCode::UNAUTHORIZED,
                "invalid_client",
            ),
            (
                None,
                "grant_type=client_credentials",
                StatusCode::UNAUTHORIZED,
                "invalid_client",
            ),
            (
                Some(("lis-home", secret.as_str())),
                "grant_type=password",
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
            ),
            (
                Some(("lis-home", secret.as_str())),
                "scope=system%2F*.read",
                StatusCode::BAD_REQUEST,
                "invalid_request",
            ),
            (
                Some(("lis-home", secret.as_str())),
                "grant_type=client_credentials&scope=system%2F*.read",
                StatusCode::BAD_REQUEST,
                "invalid_scope",
            ),
            (
                Some(("lis-home", secret.as_str())),
                "grant_type=client_credentials&scope=launch",
                StatusCode::BAD_REQUEST,
                "invalid_scope",
            ),
        ] {
            let r = token_request(&t, basic, form).await;
            assert_eq!(r.status, status, "{form}: {}", r.text);
            assert_eq!(r.json()["error"], error, "{form}");
            assert_eq!(r.json()["code"], error, "{form}");
            if status == StatusCode::UNAUTHORIZED {
                assert!(
                    r.headers["www-authenticate"]
                        .to_str()
                        .unwrap()
                        .starts_with("Basic")
                );
            }
        }
        let json_body = t
            .send(
                Request::post("/api/v1/auth/client-token")
                    .header("content-type", "application/json")
                    .body(Body::from(r#"{"grant_type":"client_credentials"}"#))
                    .unwrap(),
            )
            .await;
        assert_eq!(json_body.status, StatusCode::BAD_REQUEST);
        assert_eq!(json_body.json()["error"], "invalid_request");
        let discovery = t
            .send(
                Request::get("/fhir/.well-known/smart-configuration")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
        assert_eq!(discovery.status, StatusCode::OK);
        assert!(
            discovery.json()["token_endpoint"]
                .as_str()
                .unwrap()
                .ends_with("/api/v1/auth/client-token")
        );

        // What the scopes name, as the role allows: the centre's patients, its results.
        let p = t.home_resident;
        let r = send(&t, "GET", &format!("/fhir/Patient/{p}"), &token, None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let r = send(&t, "GET", "/fhir/Patient?_count=5", &token, None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        // The role still decides: another institution's resident is not its to read.
        let r = send(
            &t,
            "GET",
            &format!("/fhir/Patient/{}", t.other_resident),
            &token,
            None,
        )
        .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
        let taken = (time::OffsetDateTime::now_utc() - time::Duration::hours(1))
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
        let q = |v: i64| json!({"value": v, "unit": "mmHg", "system": "http://unitsofmeasure.org", "code": "mm[Hg]"});
        let bp = json!({
            "resourceType": "Observation", "status": "final",
            "identifier": [{"system": "urn:example:lis", "value": "lis-1"}],
            "code": {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
            "subject": {"reference": format!("Patient/{p}")},
            "effectiveDateTime": taken,
            "component": [
                {"code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]}, "valueQuantity": q(134)},
                {"code": {"coding": [{"system": "http://loinc.org", "code": "8462-4"}]}, "valueQuantity": q(86)},
            ],
        });
        let r = send(&t, "POST", "/fhir/Observation", &token, Some(&bp)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        // The narrower token may read but not write.
        let r = send(&t, "POST", "/fhir/Observation", &narrow, Some(&bp)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);

        // Beyond the scopes: refused before anything runs, and said so.
        let audit_before = t.store.audit_count().await.unwrap();
        for (method, path) in [
            ("GET", format!("/fhir/Condition?patient={p}")),
            ("GET", format!("/fhir/Observation?patient={p}")),
            ("GET", format!("/fhir/Patient/{p}/$everything")),
            (
                "GET",
                "/fhir/Patient?_revinclude=Observation:patient".to_owned(),
            ),
            ("PUT", format!("/fhir/Patient/{p}")),
            ("GET", "/api/v1/residents".to_owned()),
        ] {
            let r = send(&t, method, &path, &token, Some(&json!({}))).await;
            assert_eq!(
                r.status,
                StatusCode::FORBIDDEN,
                "{method} {path}: {}",
                r.text
            );
            assert!(
                r.headers["www-authenticate"]
                    .to_str()
                    .unwrap()
                    .contains("insufficient_scope"),
                "{path}"
            );
        }
        let bundle = json!({"resourceType": "Bundle", "type": "transaction", "entry": [
            {"resource": {"resourceType": "Patient", "name": [{"text": "张三"}]}, "request": {"method": "POST", "url": "Patient"}},
        ]});
        let r = send(&t, "POST", "/fhir", &token, Some(&bundle)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
        assert_eq!(
            r.json()["issue"][0]["details"]["coding"][0]["code"],
            "insufficient_scope"
        );
        // A conditional create would answer the record it finds: read is needed too.
        let r = t
            .send(
                Request::post("/fhir/Observation")
                    .header("authorization", format!("Bearer {token}"))
                    .header("content-type", "application/fhir+json")
                    .header("if-none-exist", "identifier=urn:example:lis|lis-1")
                    .body(Body::from(bp.to_string()))
                    .unwrap(),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
        let trail = t
            .audit_tail(t.store.audit_count().await.unwrap() - audit_before)
            .await;
        let refused: Vec<_> = trail
            .iter()
            .filter(|c| c.entry.action == "request.scope")
            .collect();
        assert_eq!(refused.len(), 8, "{trail:?}");
        assert!(refused.iter().all(|c| c.entry.actor_username == "lis-home"
            && c.entry.actor_user_id.is_some()
            && c.entry.role.as_deref() == Some("exam_reader")));
        let me = send(&t, "GET", "/api/v1/me", &token, None).await;
        assert_eq!(me.status, StatusCode::OK, "{}", me.text);

        // A warehouse exports what its scopes let it read.
        let (_, wsecret) = t
            .app
            .register_client(&ClientForm {
                client_id: "dw-home".into(),
                name: "数据仓库".into(),
                role: Role::InstitutionAdmin,
                institution_id: Some(t.home),
                scopes: "system/Patient.read system/Organization.read".into(),
            })
            .await
            .unwrap();
        let r = token_request(
            &t,
            Some(("dw-home", &wsecret)),
            "grant_type=client_credentials",
        )
        .await;
        let wtoken = r.json()["access_token"].as_str().unwrap().to_owned();
        let manifest =
            crate::fhir_export::export(&t, "/fhir/$export?_type=Patient,Condition", &wtoken).await;
        let types: Vec<&str> = manifest["output"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["type"].as_str().unwrap())
            .collect();
        assert_eq!(types, ["Patient"], "{manifest}");
        assert_eq!(manifest["error"][0]["count"], 1, "{manifest}");
        // A narrower token of the same client does not read the wider export's file.
        let r = token_request(
            &t,
            Some(("dw-home", &wsecret)),
            "grant_type=client_credentials&scope=system%2FOrganization.read",
        )
        .await;
        let narrow = r.json()["access_token"].as_str().unwrap().to_owned();
        let file = manifest["output"][0]["url"]
            .as_str()
            .unwrap()
            .strip_prefix("http://localhost")
            .unwrap()
            .to_owned();
        assert_eq!(
            send(&t, "GET", &file, &wtoken, None).await.status,
            StatusCode::OK
        );
        let r = send(&t, "GET", &file, &narrow, None).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);

        // A disabled client's tokens end at once.
        t.app.disable_client("lis-home").await.unwrap();
        let r = send(&t, "GET", &format!("/fhir/Patient/{p}"), &token, None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
        let r = token_request(
            &t,
            Some(("lis-home", &secret)),
            "grant_type=client_credentials",
        )
        .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);
    }
}
