//! Studies and their members, instances with tags, hosts with roles.

use chrono::{DateTime, Utc};

use super::{BeginWrite, Result, Store, StoreError, on_pool};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StudyRow {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub contact: String,
    pub instance_count: i64,
    pub host_count: i64,
    /// The asking user's role in it.
    pub my_role: Option<String>,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MemberRow {
    pub user_id: i64,
    pub username: String,
    pub display_name: String,
    pub role: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct InstanceRow {
    pub id: i64,
    pub study_id: i64,
    pub study_name: String,
    pub name: String,
    pub stack: String,
    pub environment: String,
    pub base_url: String,
    pub notes: String,
    pub status: String,
    pub host_count: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HostRow {
    pub id: i64,
    pub instance_id: i64,
    pub name: String,
    pub address: String,
    pub ssh_port: i32,
    pub ssh_user: String,
    pub credential_id: Option<i64>,
    pub credential_name: Option<String>,
    pub jump_host_id: Option<i64>,
    pub jump_host_name: Option<String>,
}

/// Instance fields as stored.
#[derive(Debug, Clone)]
pub struct InstanceFields<'a> {
    pub name: &'a str,
    pub stack: &'a str,
    pub environment: &'a str,
    pub base_url: &'a str,
    pub notes: &'a str,
    pub tags: &'a [String],
}

#[derive(Debug, Clone)]
pub struct HostFields<'a> {
    pub name: &'a str,
    pub address: &'a str,
    pub ssh_port: u16,
    pub ssh_user: &'a str,
    pub credential_id: Option<i64>,
    pub jump_host_id: Option<i64>,
    pub roles: &'a [&'a str],
}

/// Who asks, for lists that show only what they may see.
#[derive(Debug, Clone, Copy)]
pub struct Viewer {
    pub user_id: i64,
    pub is_admin: bool,
}

/// Server-side filter, sort and page of the instances list.
#[derive(Debug, Clone, Default)]
pub struct InstanceFilter<'a> {
    pub study: &'a str,
    pub stack: &'a str,
    pub environment: &'a str,
    pub tag: &'a str,
    pub status: &'a str,
    pub search: &'a str,
    pub sort: InstanceSort,
    pub descending: bool,
    pub limit: u32,
    pub offset: u64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum InstanceSort {
    #[default]
    Name,
    Study,
    Stack,
    Environment,
    Status,
}

impl InstanceSort {
    fn column(self) -> &'static str {
        match self {
            Self::Name => "i.name",
            Self::Study => "s.name",
            Self::Stack => "i.stack",
            Self::Environment => "i.environment",
            Self::Status => "i.status",
        }
    }
}

const STUDY_SELECT: &str = "SELECT s.id, s.name, s.description, s.contact,
    (SELECT COUNT(*) FROM instances i WHERE i.study_id = s.id) AS instance_count,
    (SELECT COUNT(*) FROM hosts h JOIN instances i ON i.id = h.instance_id WHERE i.study_id = s.id) AS host_count,
    (SELECT m.role FROM study_members m WHERE m.study_id = s.id AND m.user_id = $1) AS my_role
    FROM studies s";

const INSTANCE_SELECT: &str = "SELECT i.id, i.study_id, s.name AS study_name, i.name, i.stack, i.environment,
    i.base_url, i.notes, i.status, (SELECT COUNT(*) FROM hosts h WHERE h.instance_id = i.id) AS host_count
    FROM instances i JOIN studies s ON s.id = i.study_id";

const HOST_SELECT: &str = "SELECT h.id, h.instance_id, h.name, h.address, h.ssh_port, h.ssh_user,
    h.credential_id, c.name AS credential_name, h.jump_host_id, j.name AS jump_host_name
    FROM hosts h LEFT JOIN credentials c ON c.id = h.credential_id LEFT JOIN hosts j ON j.id = h.jump_host_id";

/// Instances a viewer may list: all for admins, else studies where they have a role that
/// sees the inventory.
const VISIBLE: &str = "($2 OR i.study_id IN (SELECT m.study_id FROM study_members m
    WHERE m.user_id = $1 AND m.role <> 'researcher'))";

impl Store {
    // --- studies ---------------------------------------------------------------------------

    pub async fn list_studies(&self, viewer: Viewer) -> Result<Vec<StudyRow>> {
        let sql = format!(
            "{STUDY_SELECT} WHERE ($2 OR EXISTS (SELECT 1 FROM study_members m WHERE m.study_id = s.id AND m.user_id = $1))
             ORDER BY s.name"
        );
        Ok(on_pool!(self, pool => sqlx::query_as::<_, StudyRow>(&sql)
            .bind(viewer.user_id).bind(viewer.is_admin).fetch_all(pool).await)?)
    }

    pub async fn study(&self, id: i64, user_id: i64) -> Result<StudyRow> {
        let sql = format!("{STUDY_SELECT} WHERE s.id = $2");
        Ok(on_pool!(self, pool => sqlx::query_as::<_, StudyRow>(&sql).bind(user_id).bind(id).fetch_one(pool).await)?)
    }

    pub async fn insert_study(&self, name: &str, description: &str, contact: &str, now: DateTime<Utc>) -> Result<i64> {
        Ok(on_pool!(self, pool => sqlx::query_scalar(
            "INSERT INTO studies (name, description, contact, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) RETURNING id")
            .bind(name).bind(description).bind(contact).bind(now).fetch_one(pool).await)?)
    }

    pub async fn update_study(
        &self,
        id: i64,
        name: &str,
        description: &str,
        contact: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let done = on_pool!(self, pool => sqlx::query(
            "UPDATE studies SET name = $1, description = $2, contact = $3, updated_at = $4 WHERE id = $5")
            .bind(name).bind(description).bind(contact).bind(now).bind(id).execute(pool).await.map(|d| d.rows_affected()))?;
        found(done)
    }

    pub async fn delete_study(&self, id: i64) -> Result<()> {
        let done = on_pool!(self, pool => sqlx::query("DELETE FROM studies WHERE id = $1")
            .bind(id).execute(pool).await.map(|d| d.rows_affected()))?;
        found(done)
    }

    /// The user's role in the study, if any.
    pub async fn study_role(&self, study_id: i64, user_id: i64) -> Result<Option<String>> {
        Ok(on_pool!(self, pool => sqlx::query_scalar(
            "SELECT role FROM study_members WHERE study_id = $1 AND user_id = $2")
            .bind(study_id).bind(user_id).fetch_optional(pool).await)?)
    }

    pub async fn study_exists(&self, id: i64) -> Result<bool> {
        let n: i64 = on_pool!(self, pool => sqlx::query_scalar("SELECT COUNT(*) FROM studies WHERE id = $1")
            .bind(id).fetch_one(pool).await)?;
        Ok(n > 0)
    }

    pub async fn study_of_instance(&self, instance_id: i64) -> Result<i64> {
        Ok(on_pool!(self, pool => sqlx::query_scalar("SELECT study_id FROM instances WHERE id = $1")
            .bind(instance_id).fetch_one(pool).await)?)
    }

    pub async fn study_of_host(&self, host_id: i64) -> Result<i64> {
        Ok(on_pool!(self, pool => sqlx::query_scalar(
            "SELECT i.study_id FROM hosts h JOIN instances i ON i.id = h.instance_id WHERE h.id = $1")
            .bind(host_id).fetch_one(pool).await)?)
    }

    pub async fn members(&self, study_id: i64) -> Result<Vec<MemberRow>> {
        Ok(on_pool!(self, pool => sqlx::query_as::<_, MemberRow>(
            "SELECT u.id AS user_id, u.username, u.display_name, m.role FROM study_members m
             JOIN users u ON u.id = m.user_id WHERE m.study_id = $1 ORDER BY u.username")
            .bind(study_id).fetch_all(pool).await)?)
    }

    pub async fn set_member(&self, study_id: i64, user_id: i64, role: &str, now: DateTime<Utc>) -> Result<()> {
        on_pool!(self, pool => sqlx::query(
            "INSERT INTO study_members (study_id, user_id, role, added_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (study_id, user_id) DO UPDATE SET role = $3")
            .bind(study_id).bind(user_id).bind(role).bind(now).execute(pool).await.map(|d| d.rows_affected()))?;
        Ok(())
    }

    pub async fn remove_member(&self, study_id: i64, user_id: i64) -> Result<()> {
        let done = on_pool!(self, pool => sqlx::query("DELETE FROM study_members WHERE study_id = $1 AND user_id = $2")
            .bind(study_id).bind(user_id).execute(pool).await.map(|d| d.rows_affected()))?;
        found(done)
    }

    // --- instances -------------------------------------------------------------------------

    pub async fn list_instances(&self, viewer: Viewer, filter: &InstanceFilter<'_>) -> Result<(Vec<InstanceRow>, u64)> {
        let conditions = format!(
            "{VISIBLE} AND ($3 = '' OR s.name = $3) AND ($4 = '' OR i.stack = $4) AND ($5 = '' OR i.environment = $5)
             AND ($6 = '' OR i.status = $6) AND ($7 = '' OR LOWER(i.name) LIKE '%' || $7 || '%' ESCAPE '\\')
             AND ($8 = '' OR EXISTS (SELECT 1 FROM instance_tags t WHERE t.instance_id = i.id AND t.tag = $8))"
        );
        let direction = if filter.descending { "DESC" } else { "ASC" };
        let list = format!(
            "{INSTANCE_SELECT} WHERE {conditions} ORDER BY {} {direction}, i.id {direction} LIMIT $9 OFFSET $10",
            filter.sort.column()
        );
        let count = format!("SELECT COUNT(*) FROM instances i JOIN studies s ON s.id = i.study_id WHERE {conditions}");
        let offset = i64::try_from(filter.offset).unwrap_or(i64::MAX);
        macro_rules! bind_filter {
            ($query:expr) => {
                $query
                    .bind(viewer.user_id)
                    .bind(viewer.is_admin)
                    .bind(filter.study)
                    .bind(filter.stack)
                    .bind(filter.environment)
                    .bind(filter.status)
                    .bind(super::like_pattern(&filter.search.to_lowercase()))
                    .bind(filter.tag)
            };
        }
        let (rows, total): (Vec<InstanceRow>, i64) = on_pool!(self, pool => {
            let rows = bind_filter!(sqlx::query_as::<_, InstanceRow>(&list))
                .bind(i64::from(filter.limit)).bind(offset).fetch_all(pool).await?;
            let total: i64 = bind_filter!(sqlx::query_scalar(&count)).fetch_one(pool).await?;
            (rows, total)
        });
        Ok((rows, u64::try_from(total).unwrap_or_default()))
    }

    pub async fn instances_of_study(&self, study_id: i64) -> Result<Vec<InstanceRow>> {
        let sql = format!("{INSTANCE_SELECT} WHERE i.study_id = $1 ORDER BY i.name");
        Ok(on_pool!(self, pool => sqlx::query_as::<_, InstanceRow>(&sql).bind(study_id).fetch_all(pool).await)?)
    }

    pub async fn instance(&self, id: i64) -> Result<InstanceRow> {
        let sql = format!("{INSTANCE_SELECT} WHERE i.id = $1");
        Ok(on_pool!(self, pool => sqlx::query_as::<_, InstanceRow>(&sql).bind(id).fetch_one(pool).await)?)
    }

    /// Tags of the given instances, as (instance id, tag) sorted by tag.
    pub async fn tags_of(&self, instance_ids: &[i64]) -> Result<Vec<(i64, String)>> {
        if instance_ids.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders: Vec<String> = (1..=instance_ids.len()).map(|n| format!("${n}")).collect();
        let sql = format!(
            "SELECT instance_id, tag FROM instance_tags WHERE instance_id IN ({}) ORDER BY tag",
            placeholders.join(", ")
        );
        Ok(on_pool!(self, pool => {
            let mut query = sqlx::query_as::<_, (i64, String)>(&sql);
            for id in instance_ids {
                query = query.bind(*id);
            }
            query.fetch_all(pool).await
        })?)
    }

    pub async fn insert_instance(&self, study_id: i64, fields: &InstanceFields<'_>, now: DateTime<Utc>) -> Result<i64> {
        Ok(on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO instances (study_id, name, stack, environment, base_url, notes, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING id")
                .bind(study_id).bind(fields.name).bind(fields.stack).bind(fields.environment)
                .bind(fields.base_url).bind(fields.notes).bind(now)
                .fetch_one(&mut *tx).await?;
            for tag in fields.tags {
                sqlx::query("INSERT INTO instance_tags (instance_id, tag) VALUES ($1, $2)")
                    .bind(id).bind(tag).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            id
        }))
    }

    pub async fn update_instance(&self, id: i64, fields: &InstanceFields<'_>, now: DateTime<Utc>) -> Result<()> {
        on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let done = sqlx::query(
                "UPDATE instances SET name = $1, stack = $2, environment = $3, base_url = $4, notes = $5, updated_at = $6
                 WHERE id = $7")
                .bind(fields.name).bind(fields.stack).bind(fields.environment).bind(fields.base_url)
                .bind(fields.notes).bind(now).bind(id)
                .execute(&mut *tx).await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            sqlx::query("DELETE FROM instance_tags WHERE instance_id = $1").bind(id).execute(&mut *tx).await?;
            for tag in fields.tags {
                sqlx::query("INSERT INTO instance_tags (instance_id, tag) VALUES ($1, $2)")
                    .bind(id).bind(tag).execute(&mut *tx).await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    pub async fn delete_instance(&self, id: i64) -> Result<()> {
        let done = on_pool!(self, pool => sqlx::query("DELETE FROM instances WHERE id = $1")
            .bind(id).execute(pool).await.map(|d| d.rows_affected()))?;
        found(done)
    }

    // --- hosts ---------------------------------------------------------------------------

    pub async fn hosts_of_instance(&self, instance_id: i64) -> Result<Vec<HostRow>> {
        let sql = format!("{HOST_SELECT} WHERE h.instance_id = $1 ORDER BY h.name");
        Ok(on_pool!(self, pool => sqlx::query_as::<_, HostRow>(&sql).bind(instance_id).fetch_all(pool).await)?)
    }

    /// Every host (fleet-wide jobs).
    pub async fn all_hosts(&self) -> Result<Vec<HostRow>> {
        let sql = format!("{HOST_SELECT} ORDER BY h.id");
        Ok(on_pool!(self, pool => sqlx::query_as::<_, HostRow>(&sql).fetch_all(pool).await)?)
    }

    pub async fn host(&self, id: i64) -> Result<HostRow> {
        let sql = format!("{HOST_SELECT} WHERE h.id = $1");
        Ok(on_pool!(self, pool => sqlx::query_as::<_, HostRow>(&sql).bind(id).fetch_one(pool).await)?)
    }

    /// Roles of the given hosts, by host.
    pub async fn roles_by_host(&self, host_ids: &[i64]) -> Result<std::collections::HashMap<i64, Vec<String>>> {
        let mut roles: std::collections::HashMap<i64, Vec<String>> = std::collections::HashMap::new();
        for (id, role) in self.roles_of(host_ids).await? {
            roles.entry(id).or_default().push(role);
        }
        Ok(roles)
    }

    /// Roles of the given hosts, as (host id, role).
    pub async fn roles_of(&self, host_ids: &[i64]) -> Result<Vec<(i64, String)>> {
        if host_ids.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders: Vec<String> = (1..=host_ids.len()).map(|n| format!("${n}")).collect();
        let sql = format!(
            "SELECT host_id, role FROM host_roles WHERE host_id IN ({}) ORDER BY role",
            placeholders.join(", ")
        );
        Ok(on_pool!(self, pool => {
            let mut query = sqlx::query_as::<_, (i64, String)>(&sql);
            for id in host_ids {
                query = query.bind(*id);
            }
            query.fetch_all(pool).await
        })?)
    }

    pub async fn insert_host(&self, instance_id: i64, fields: &HostFields<'_>, now: DateTime<Utc>) -> Result<i64> {
        Ok(on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO hosts (instance_id, name, address, ssh_port, ssh_user, credential_id, jump_host_id, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id")
                .bind(instance_id).bind(fields.name).bind(fields.address).bind(i32::from(fields.ssh_port))
                .bind(fields.ssh_user).bind(fields.credential_id).bind(fields.jump_host_id).bind(now)
                .fetch_one(&mut *tx).await?;
            for role in fields.roles {
                sqlx::query("INSERT INTO host_roles (host_id, role) VALUES ($1, $2)").bind(id).bind(*role).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            id
        }))
    }

    /// Changes a host. When its address, port, user, key or jump host changes, the host keys
    /// it had no longer say anything about what it now reaches: they are dropped and the host
    /// goes back to "key unknown" until someone trusts a key again. Returns whether that
    /// happened.
    pub async fn update_host(&self, id: i64, fields: &HostFields<'_>, now: DateTime<Utc>) -> Result<bool> {
        Ok(on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            let before: Option<Reach> = sqlx::query_as(
                "SELECT address, ssh_port, ssh_user, credential_id, jump_host_id FROM hosts WHERE id = $1")
                .bind(id).fetch_optional(&mut *tx).await?;
            let Some(before) = before else { return Err(StoreError::NotFound) };
            let after = (fields.address.to_owned(), i32::from(fields.ssh_port), fields.ssh_user.to_owned(),
                fields.credential_id, fields.jump_host_id);
            let repointed = before != after;
            if repointed {
                sqlx::query("DELETE FROM host_keys WHERE host_id = $1").bind(id).execute(&mut *tx).await?;
                sqlx::query("UPDATE hosts SET host_key_status = 'unknown' WHERE id = $1").bind(id).execute(&mut *tx).await?;
            }
            let done = sqlx::query(
                "UPDATE hosts SET name = $1, address = $2, ssh_port = $3, ssh_user = $4, credential_id = $5,
                 jump_host_id = $6, updated_at = $7 WHERE id = $8")
                .bind(fields.name).bind(fields.address).bind(i32::from(fields.ssh_port)).bind(fields.ssh_user)
                .bind(fields.credential_id).bind(fields.jump_host_id).bind(now).bind(id)
                .execute(&mut *tx).await?;
            if done.rows_affected() == 0 {
                return Err(StoreError::NotFound);
            }
            sqlx::query("DELETE FROM host_roles WHERE host_id = $1").bind(id).execute(&mut *tx).await?;
            for role in fields.roles {
                sqlx::query("INSERT INTO host_roles (host_id, role) VALUES ($1, $2)").bind(id).bind(*role).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            repointed
        }))
    }

    pub async fn delete_host(&self, id: i64) -> Result<()> {
        let done = on_pool!(self, pool => sqlx::query("DELETE FROM hosts WHERE id = $1")
            .bind(id).execute(pool).await.map(|d| d.rows_affected()))?;
        found(done)
    }

    /// Hosts of other instances whose jump host is in this one.
    pub async fn hosts_jumping_into_instance(&self, instance_id: i64) -> Result<i64> {
        Ok(on_pool!(self, pool => sqlx::query_scalar(
            "SELECT COUNT(*) FROM hosts h JOIN hosts j ON j.id = h.jump_host_id
             WHERE j.instance_id = $1 AND h.instance_id <> $1")
            .bind(instance_id).fetch_one(pool).await)?)
    }

    /// Hosts that use another host as their jump host.
    pub async fn hosts_jumping_through(&self, host_id: i64) -> Result<i64> {
        Ok(on_pool!(self, pool => sqlx::query_scalar("SELECT COUNT(*) FROM hosts WHERE jump_host_id = $1")
            .bind(host_id).fetch_one(pool).await)?)
    }
}

/// What a host's SSH connection reaches: address, port, user, key and jump host.
type Reach = (String, i32, String, Option<i64>, Option<i64>);

fn found(rows: u64) -> Result<()> {
    if rows == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}
