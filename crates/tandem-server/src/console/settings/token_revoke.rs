//! `POST /settings/tokens/{id}/revoke`: revokes one's own API token (admins: any of the
//! workspace's).

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use tandem_domain::ApiTokenId;

use crate::AppState;
use crate::api::tokens::revoke_token_checked;
use crate::console::{CsrfForm, NoFields, PageError, PageResult};

pub(super) async fn revoke_api_token(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    CsrfForm { agent, .. }: CsrfForm<NoFields>,
) -> PageResult {
    revoke_token_checked(&state, &agent, ApiTokenId(id))
        .await
        .map_err(PageError::for_agent(&agent))?;
    Ok(Redirect::to("/settings?notice=token_revoked#tokens").into_response())
}
