DELETE FROM models WHERE id IN ('scene-sketch', 'scene-studio', 'scene-vista');
