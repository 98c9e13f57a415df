//! On-call rotas (a study's, or the global one) and their overrides.

use super::*;

#[async_trait]
impl RotaApi for WebBackend {
    async fn get_rota(&self, _caller: &Caller, study_id: Option<i64>) -> Result<RotaView> {
        Ok(self.state.oncall.view(study_id).await?)
    }

    async fn save_rota(&self, caller: &Caller, input: RotaInput) -> Result<RotaView> {
        Ok(self.state.oncall.save(&actor(caller), input).await?)
    }

    async fn add_rota_override(&self, caller: &Caller, input: OverrideInput) -> Result<RotaView> {
        Ok(self.state.oncall.add_override(&actor(caller), input).await?)
    }

    async fn delete_rota_override(&self, caller: &Caller, study_id: Option<i64>, override_id: i64) -> Result<RotaView> {
        Ok(self.state.oncall.delete_override(&actor(caller), study_id, override_id).await?)
    }
}
