//! The multipart body of a facemap initiation, as an integration sends it:
//! shared by the API suite and the fault test (each test binary includes
//! this file as a module).

/// `enrollmentMetadata` (JSON text) and `facemap` (the stored bytes).
pub fn initiate_form(metadata: String, facemap: &[u8]) -> reqwest::multipart::Form {
    reqwest::multipart::Form::new()
        .part(
            "enrollmentMetadata",
            reqwest::multipart::Part::text(metadata)
                .mime_str("application/json")
                .unwrap(),
        )
        .part(
            "facemap",
            reqwest::multipart::Part::bytes(facemap.to_vec())
                .file_name("facemap.bin")
                .mime_str("application/octet-stream")
                .unwrap(),
        )
}
